namespace IronFunction.Tests.EndToEnd;

// What the library judges is what the kernel uses (SPEC §7): a socket address is copied into the hook's own memory,
// judged there, and the copy is what connect/sendto receive. probes/socket_probe.c's "race" flips a sockaddr_in
// between an allowed and a blocked address from another thread while the main thread connects (and then sends)
// to it, a bounded number of times, and counts what reached listeners of its own on each address.

public class SocketAddressRaceTests
{
    private const string Command = "race 203.0.113.77 203.0.113.7 10000";

    private static Dictionary<string, int> Counts(NamespaceRun run) => run.Line(Command).Split(' ', StringSplitOptions.RemoveEmptyEntries)
        .Select(f => f.Split('=')).ToDictionary(f => f[0], f => int.Parse(f[1]));

    [NamespaceFact]
    public void Another_thread_changing_the_address_after_the_judgement_changes_nothing()
    {
        using var box = new Sandbox();
        // the flip is real: without the library the blocked address is reached (a loaded machine may starve the
        // flipping thread for a whole run, so up to three runs)
        NamespaceRun plain = null!;
        for (int run = 0; run < 3; run++)
        {
            plain = NetNamespace.Run(box, null, SocketProbe.Exe.Value, [Command], preload: false);
            var without = Counts(plain);
            if (without["blocked_reached"] + without["udp_blocked"] > 0) break;
        }
        Assert.True(Counts(plain)["blocked_reached"] + Counts(plain)["udp_blocked"] > 0, plain.ToString());

        // every run: nothing reached the blocked address; until one run where the flip was seen by a judgement too
        NamespaceRun block = null!;
        IReadOnlyList<string> denied = [];
        for (int run = 0; run < 3 && denied.Count == 0; run++)
        {
            block = NetNamespace.Run(box, NetNamespace.BlockPolicy, SocketProbe.Exe.Value, [Command]);
            var with = Counts(block);
            Assert.Equal(0, with["blocked_reached"]);
            Assert.Equal(0, with["udp_blocked"]);
            Assert.True(with["allowed_reached"] + with["udp_allowed"] > 0, block.ToString());
            denied = block.Events("block").ToList();
        }
        // both addresses were judged: some calls went, the others were denied (and reported) with the blocked address
        Assert.True(denied.Count > 0, block.ToString());
        Assert.All(denied, w => Assert.StartsWith("203.0.113.7:", w));
    }
}
