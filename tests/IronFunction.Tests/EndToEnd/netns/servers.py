"""Servers for the outbound_connectivity end-to-end tests. Runs (without the library) inside the test's own
network namespace, where the outside-looking addresses live on lo. Every server answers on every address
and writes one line per thing it receives to the log, so a test can tell what actually arrived:

  7070/tcp  greeting: "hello <the address the client reached>\\n" at once     log: "tcp <address> 7070"
  8080/tcp  HTTP/1.0: the same greeting as the body                          log: "tcp <address> 8080"
  9999/udp  datagrams                                                        log: "udp <payload>"
  53/udp    DNS on 203.0.113.53 (the namespace's only nameserver)            log: "dns <name> <qtype>"
            bytes after a query's question                                   log: "dns-extra <bytes>"
  53/udp    an attacker's DNS on 203.0.113.7 and 2001:db8::7 (evil.example)  log: "dns-evil <name> <qtype>"

  UNIX      stream socket at the path given: the same greeting                log: "unix"

usage: servers.py LOG READY UNIX -- writes READY once everything listens; exits with its parent."""
import ctypes, os, signal, socket, struct, sys, threading

LOG, READY, UNIX = sys.argv[1], sys.argv[2], sys.argv[3]
# names only the DNS server knows (not in the hosts file), and what their A queries answer
DNS_ANSWERS = {"api.dns.yahoo.com": "203.0.113.40", "exfil.dns.evil.example": "203.0.113.41"}
# an attacker's zone: every name under it answers with evil.example's address
ATTACKER_ZONE, ATTACKER_ADDRESS = ".attacker.example", "203.0.113.7"

ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: never outlive the namespace script
lock = threading.Lock()


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


def dual_stack(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    if kind == socket.SOCK_STREAM:
        s.listen(128)
    return s


def local(sock):
    a = sock.getsockname()[0]
    return a[7:] if a.startswith("::ffff:") else a


def greet(listener):
    while True:
        c, _ = listener.accept()
        with c:
            log(f"tcp {local(c)} 7070")
            try:
                c.sendall(f"hello {local(c)}\n".encode())
            except OSError:
                pass


def greet_unix(listener):
    while True:
        c, _ = listener.accept()
        with c:
            log("unix")
            c.sendall(b"hello unix\n")


def serve_http(c):
    with c:
        try:
            c.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            log(f"tcp {local(c)} 8080")
            body = f"hello {local(c)}\n".encode()
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(body) + body)
        except OSError:
            pass


def http(listener):
    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve_http, args=(c,), daemon=True).start()


def udp(sock):
    while True:
        data, _ = sock.recvfrom(65536)
        log("udp " + data.decode(errors="replace"))


def dns_reply(q, prefix="dns"):
    i, labels = 12, []
    while q[i] != 0:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode(errors="replace"))
        i += 1 + n
    name = ".".join(labels)
    qtype, _ = struct.unpack("!HH", q[i + 1:i + 5])
    log(f"{prefix} {name} {qtype}")
    if len(q) > i + 5:
        log("dns-extra " + q[i + 5:].decode(errors="replace"))
    question = q[12:i + 5]
    address = ATTACKER_ADDRESS if prefix != "dns" or name.lower().endswith(ATTACKER_ZONE) else DNS_ANSWERS.get(name.lower())
    known = address is not None
    answer = b""
    if known and qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
    rcode = 0 if known else 3  # NXDOMAIN for every other name
    return q[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, 1 if answer else 0, 0, 0) + question + answer


def dns(sock, prefix="dns"):
    while True:
        q, peer = sock.recvfrom(4096)
        try:
            sock.sendto(dns_reply(q, prefix), peer)
        except Exception as e:  # a malformed query is logged, never fatal
            log(f"dns-error {e!r}")


def start(target, sock):
    threading.Thread(target=target, args=(sock,), daemon=True).start()


start(greet, dual_stack(socket.SOCK_STREAM, 7070))
start(http, dual_stack(socket.SOCK_STREAM, 8080))
start(udp, dual_stack(socket.SOCK_DGRAM, 9999))
nameserver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
nameserver.bind(("203.0.113.53", 53))
start(dns, nameserver)
for family, address in ((socket.AF_INET, "203.0.113.7"), (socket.AF_INET6, "2001:db8::7")):
    evil = socket.socket(family, socket.SOCK_DGRAM)
    evil.bind((address, 53))
    threading.Thread(target=dns, args=(evil, "dns-evil"), daemon=True).start()
unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
unix.bind(UNIX)
unix.listen(16)
start(greet_unix, unix)
open(READY, "w").close()
threading.Event().wait(300)  # a hung test still ends
