using System.Text.RegularExpressions;

namespace IronFunction.Tests;

/// <summary>The README is a front page a newcomer can read, and every relative link in it and in docs/ leads somewhere.</summary>
public class DocumentationTests
{
    private static readonly string Root = EndToEnd.Machine.RepoRoot;

    private static IEnumerable<string> Pages() =>
        new[] { Path.Combine(Root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal));

    /// <summary>GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces as '-'.</summary>
    private static string Slug(string heading) =>
        Regex.Replace(heading.Trim().ToLowerInvariant(), @"[^\p{L}\p{N}\-_ ]", "").Replace(' ', '-');

    private static HashSet<string> Anchors(string page) =>
        File.ReadLines(page).Select(l => Regex.Match(l, @"^#{1,6} (.+)$")).Where(m => m.Success)
            .Select(m => Slug(m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void The_readme_is_at_most_250_lines() =>
        Assert.True(File.ReadAllLines(Path.Combine(Root, "README.md")).Length <= 250, "README.md has grown past 250 lines: move detail to docs/");

    [Fact]
    public void Every_relative_link_resolves_to_a_file_and_heading()
    {
        var broken = new List<string>();
        foreach (var page in Pages())
        {
            var text = File.ReadAllText(page);
            // links outside code spans and blocks
            text = Regex.Replace(text, "```.*?```", "", RegexOptions.Singleline);
            text = Regex.Replace(text, "`[^`\n]*`", "");
            foreach (Match m in Regex.Matches(text, @"\]\(([^)\s]+)\)"))
            {
                var target = m.Groups[1].Value;
                if (Regex.IsMatch(target, "^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)) continue;
                var hash = target.IndexOf('#');
                var file = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var resolved = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, file));
                var name = Path.GetRelativePath(Root, page);
                if (!File.Exists(resolved) && !Directory.Exists(resolved)) { broken.Add($"{name}: {target} (no such file)"); continue; }
                if (anchor != null && resolved.EndsWith(".md", StringComparison.Ordinal) && !Anchors(resolved).Contains(anchor))
                    broken.Add($"{name}: {target} (no such heading)");
            }
        }
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Every_docs_page_is_linked_from_the_readme()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        foreach (var page in Directory.GetFiles(Path.Combine(Root, "docs"), "*.md"))
            Assert.True(readme.Contains($"](docs/{Path.GetFileName(page)}", StringComparison.Ordinal), $"docs/{Path.GetFileName(page)} is not linked from README.md");
    }
}
