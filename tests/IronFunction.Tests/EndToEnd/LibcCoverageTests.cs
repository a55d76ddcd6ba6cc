namespace IronFunction.Tests.EndToEnd;

/// <summary>
/// tools/libc-path-functions: every function this machine's libc exports that takes a path is decided in
/// tools/libc-path-functions.txt (covered ones are hooked), and docs/libc-coverage.md shows the table it makes.
/// </summary>
public class LibcCoverageTests
{
    private static readonly string Script = Path.Combine(Machine.RepoRoot, "tools", "libc-path-functions");
    private static readonly string Doc = Path.Combine(Machine.RepoRoot, "docs", "libc-coverage.md");

    [Fact]
    public void Every_path_function_of_this_libc_is_decided_and_the_page_shows_the_table()
    {
        // --markdown fails, naming them, when a function is undecided or marked covered without a hook
        var run = Preloaded.RunPlain(Machine.Python.Value, [Script, "--markdown"], timeoutSeconds: 300);
        Assert.True(run.ExitCode == 0, $"tools/libc-path-functions found functions nobody decided:\n{run}");
        var text = File.ReadAllText(Doc);
        const string Begin = "<!-- libc-path-functions:begin -->\n", End = "<!-- libc-path-functions:end -->";
        int from = text.IndexOf(Begin, StringComparison.Ordinal), to = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, "docs/libc-coverage.md has no table markers");
        Assert.True(text[(from + Begin.Length)..to].Trim() == run.Stdout.Trim(),
            "docs/libc-coverage.md is out of date: put the output of tools/libc-path-functions --markdown between its markers");
    }

    [Fact]
    public void The_sweep_finds_the_functions_that_reach_files()
    {
        var run = Preloaded.RunPlain(Machine.Python.Value, [Script, "--list"], timeoutSeconds: 300);
        Assert.Equal(0, run.ExitCode);
        var found = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // found from the headers' prototypes and the exports without one, not from the decisions file
        Assert.Superset(new HashSet<string>(["open", "posix_spawn", "glob", "dlopen", "getxattr", "listxattr", "inotify_add_watch",
            "name_to_handle_at", "statx", "__xstat", "__open_nocancel", "_IO_fopen"]), found.ToHashSet());
    }
}
