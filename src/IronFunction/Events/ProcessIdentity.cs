using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>Who is making the call: read from /proc and /etc/passwd, again after a fork changes the pid.</summary>
internal sealed class ProcessIdentity
{
    private static ProcessIdentity? s_current;

    public required int Pid { get; init; }
    public required string Name { get; init; }
    public required string Command { get; init; }
    public required uint Uid { get; init; }
    public required string UserName { get; init; }

    public static ProcessIdentity Current
    {
        get
        {
            int pid = Libc.Getpid();
            var known = s_current;
            if (known != null && known.Pid == pid) return known;
            uint uid = Libc.Getuid();
            var fresh = new ProcessIdentity
            {
                Pid = pid,
                Name = ReadText("/proc/self/comm").TrimEnd('\n'),
                Command = ReadText("/proc/self/cmdline").TrimEnd('\0').Replace('\0', ' '),
                Uid = uid,
                UserName = UserNameOf(uid),
            };
            s_current = fresh;
            return fresh;
        }
    }

    // the library's own reads go through System.Native, which is linked to libc directly: never judged
    private static string ReadText(string path)
    {
        try { return System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(path)); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    /// <summary>getpwuid would load NSS modules into the host; the passwd file answers for local users.</summary>
    private static string UserNameOf(uint uid)
    {
        foreach (var line in ReadText("/etc/passwd").Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && uint.TryParse(fields[2], out var id) && id == uid) return fields[0];
        }
        return "";
    }
}
