using System.Text;
using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

internal static class Gens
{
    public static Gen<string> Pick(params string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);
}

public class PathLexerTests
{
    private static Gen<string> Pick(params string[] choices) => Gens.Pick(choices);

    private static string Normalize(string baseDir, string path)
    {
        var dest = new byte[8192];
        int n = PathLexer.Normalize(Encoding.UTF8.GetBytes(baseDir), Encoding.UTF8.GetBytes(path), dest);
        return n < 0 ? "<too long>" : Encoding.UTF8.GetString(dest, 0, n);
    }

    /// <summary>A plain model of the same rules, written the obvious way with strings.</summary>
    private static string Model(string baseDir, string path)
    {
        var stack = new List<string>();
        var full = path.StartsWith('/') ? path : baseDir + "/" + path;
        foreach (var part in full.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..") { if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); continue; }
            stack.Add(part);
        }
        return "/" + string.Join('/', stack);
    }

    [Theory]
    [InlineData("/", "tmp/x", "/tmp/x")]
    [InlineData("/home/u", "x", "/home/u/x")]
    [InlineData("/home/u", "../../tmp/x", "/tmp/x")]
    [InlineData("/home/u", "../../../../tmp", "/tmp")]
    [InlineData("/anything", "//tmp//x//", "/tmp/x")]
    [InlineData("/anything", "/tmp/./x/.", "/tmp/x")]
    [InlineData("/anything", "/usr/../tmp/x", "/tmp/x")]
    [InlineData("/anything", "/tmp/nope/../x", "/tmp/x")]
    [InlineData("/anything", "/", "/")]
    [InlineData("/anything", "/..", "/")]
    [InlineData("/home/u", "", "/home/u")]
    [InlineData("/home/u", ".", "/home/u")]
    [InlineData("/", "..", "/")]
    [InlineData("/a", "...", "/a/...")]
    [InlineData("/a", ".x/..y", "/a/.x/..y")]
    public void Normalizes_like_the_kernel_without_links(string baseDir, string path, string expected)
    {
        Assert.Equal(expected, Normalize(baseDir, path));
    }

    [Fact]
    public void Reports_a_result_that_does_not_fit()
    {
        var dest = new byte[16];
        Assert.Equal(-1, PathLexer.Normalize("/"u8, "/aaaaaaaaaa/bbbbbbbbbb"u8, dest));
        Assert.Equal(-1, PathLexer.Normalize("/"u8, "/"u8, Span<byte>.Empty));
        Assert.Equal(11, PathLexer.Normalize("/"u8, "/aaaaaaaaaa"u8, dest));
    }

    private static readonly Gen<string> Component = Gen.OneOf(
        Pick("", ".", "..", "...", "tmp", "tmpfoo", "var", "x", "é", "a b", "\u0001"),
        Gen.String[Gen.Char["abc./"], 0, 6]);

    private static readonly Gen<string> AnyPath =
        Gen.Select(Gen.Bool, Component.Array[0, 10], (absolute, parts) => (absolute ? "/" : "") + string.Join('/', parts));

    private static readonly Gen<string> BaseDir = Component.Array[0, 5].Select(parts => Model("/", string.Join('/', parts)));

    [Fact]
    public void Agrees_with_the_model_for_any_path()
    {
        Gen.Select(BaseDir, AnyPath).Sample((b, p) => Normalize(b, p) == Model(b, p));
    }

    [Fact]
    public void Is_idempotent_and_canonical()
    {
        Gen.Select(BaseDir, AnyPath).Sample((b, p) =>
        {
            var once = Normalize(b, p);
            return Normalize("/elsewhere", once) == once
                && once.StartsWith('/')
                && !once.Contains("//")
                && !once.Split('/').Skip(1).Any(c => c is "." or "..")
                && (once == "/" || !once.EndsWith('/'));
        });
    }
}

public class TmpPathRuleTests
{
    private static Gen<string> Pick(params string[] choices) => Gens.Pick(choices);

    private static readonly TmpPathRule Rule = new(["/tmp"]);

    private static bool Covers(TmpPathRule rule, string normalized) => rule.Covers(Encoding.UTF8.GetBytes(normalized));

    [Theory]
    [InlineData("/tmp", true)]
    [InlineData("/tmp/x", true)]
    [InlineData("/tmp/a/b/c", true)]
    [InlineData("/tmpfoo", false)]
    [InlineData("/tmpfoo/x", false)]
    [InlineData("/tm", false)]
    [InlineData("/var/tmp", false)]
    [InlineData("/var/tmp/x", false)]
    [InlineData("/home/tmp/x", false)]
    [InlineData("/", false)]
    [InlineData("/TMP/x", false)]
    public void Covers_tmp_on_component_boundaries_only(string path, bool covered)
    {
        Assert.Equal(covered, Covers(Rule, path));
    }

    [Fact]
    public void Tmpdir_elsewhere_is_covered_too_and_roots_are_normalised()
    {
        var rule = new TmpPathRule(["/tmp", "/var/task/scratch/", "//private//tmp", "relative/ignored", "/", ""]);
        Assert.Equal(["/tmp", "/var/task/scratch", "/private/tmp"], rule.Roots);
        Assert.True(Covers(rule, "/var/task/scratch/f"));
        Assert.True(Covers(rule, "/private/tmp"));
        Assert.False(Covers(rule, "/var/task/scratchy"));
        Assert.False(Covers(rule, "/var/task"));
    }

    [Fact]
    public void Covers_exactly_what_lies_under_a_root_for_any_path()
    {
        var component = Pick("tmp", "tmpfoo", "tm", "var", "x", "tmp.d", "..tmp");
        component.Array[0, 6].Sample(parts =>
        {
            var path = "/" + string.Join('/', parts);
            bool expected = parts.Length > 0 && parts[0] == "tmp";
            return Covers(Rule, path) == expected;
        });
    }
}
