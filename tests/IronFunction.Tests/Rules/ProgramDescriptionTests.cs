using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

/// <summary>How create_child_process events name what starts (SPEC §3: the program, and for shells the command line).</summary>
public class ProgramDescriptionTests
{
    [Theory]
    [InlineData("/bin/sh", new[] { "sh", "-c", "ls /" }, "/bin/sh -c \"ls /\"")]
    [InlineData("/bin/sh", new[] { "sh", "-c", "--", "ls /" }, "/bin/sh -c \"ls /\"")] // glibc's system()
    [InlineData("/usr/bin/bash", new[] { "bash", "-lc", "echo hi" }, "/usr/bin/bash -c \"echo hi\"")]
    [InlineData("/bin/dash", new[] { "dash", "-ec", "x" }, "/bin/dash -c \"x\"")]
    [InlineData("/bin/bash", new[] { "bash", "-o", "pipefail", "-c", "a | b" }, "/bin/bash -c \"a | b\"")]
    [InlineData("/bin/bash", new[] { "bash", "--norc", "-c", "x" }, "/bin/bash -c \"x\"")]
    [InlineData("/bin/bash", new[] { "bash", "--rcfile", "/etc/rc", "-c", "x" }, "/bin/bash -c \"x\"")]
    [InlineData("/bin/sh", new[] { "sh", "-c", "echo \"quoted\" \\ back" }, "/bin/sh -c \"echo \\\"quoted\\\" \\\\ back\"")]
    [InlineData("/bin/busybox", new[] { "sh", "-c", "id" }, "/bin/busybox -c \"id\"")] // a shell by the name it runs under
    [InlineData("/bin/sh", new[] { "sh", "script.sh", "-c" }, "/bin/sh")]            // a script, not a command
    [InlineData("/bin/sh", new[] { "sh", "-c" }, "/bin/sh")]                         // -c with nothing after it
    [InlineData("/bin/sh", new string[0], "/bin/sh")]
    [InlineData("/usr/bin/python3", new[] { "python3", "-c", "print(1)" }, "/usr/bin/python3")] // not a shell
    [InlineData("/usr/bin/ls", new[] { "ls", "-c" }, "/usr/bin/ls")]
    [InlineData("/opt/shx", new[] { "shx", "-c", "x" }, "/opt/shx")]
    public void Names_the_program_and_a_shell_s_command_line(string program, string[] argv, string expected)
    {
        Assert.Equal(expected, ProgramDescription.What(program, argv));
    }

    [Theory]
    [InlineData("sh", true)]
    [InlineData("/bin/bash", true)]
    [InlineData("/usr/local/bin/zsh", true)]
    [InlineData("/bin/ksh93", true)]
    [InlineData("/bin/shell", false)]
    [InlineData("/usr/bin/env", false)]
    public void Knows_the_shells(string program, bool shell)
    {
        Assert.Equal(shell, ProgramDescription.IsShell(program, []));
    }

    [Fact]
    public void Any_command_given_to_a_shell_is_named_quoted_and_recoverable()
    {
        // after "--" anything is the command; without it, a leading - or + would be read as options, by sh too
        Gen.Select(Gen.String, Gen.Bool).Sample((command, withDashes) =>
        {
            string[] argv = withDashes ? ["sh", "-c", "--", command] : ["sh", "-c", command];
            if (!withDashes && command.Length > 0 && command[0] is '-' or '+') return true;
            var what = ProgramDescription.What("/bin/sh", argv);
            var prefix = "/bin/sh -c ";
            if (!what.StartsWith(prefix, StringComparison.Ordinal)) return false;
            return command.Length > ProgramDescription.MaxText || Unquote(what[prefix.Length..]) == command;
        });
    }

    [Fact]
    public void A_program_that_is_not_a_shell_is_named_by_its_path_whatever_its_arguments()
    {
        Gen.Select(Gens.Pick("/usr/bin/python3", "/usr/bin/node", "/bin/ls", "/opt/app/run"), Gen.String.Array[0, 6])
            .Sample((program, argv) => ProgramDescription.What(program, argv) == program);
    }

    [Fact]
    public void Long_command_lines_are_cut()
    {
        var what = ProgramDescription.What("/bin/sh", ["sh", "-c", new string('x', 10_000)]);
        Assert.True(what.Length < ProgramDescription.MaxText + 64);
        Assert.EndsWith("...\"", what);
    }

    [Theory]
    [InlineData(new[] { "ls", "-la", "/" }, "ls -la /")]
    [InlineData(new[] { "echo", "two words", "" }, "echo \"two words\" \"\"")]
    [InlineData(new[] { "grep", "a\"b" }, "grep \"a\\\"b\"")]
    public void Argument_lines_quote_what_needs_it(string[] argv, string expected)
    {
        Assert.Equal(expected, ProgramDescription.ArgumentLine(argv));
    }

    private static string Unquote(string quoted)
    {
        Assert.True(quoted.Length >= 2 && quoted[0] == '"' && quoted[^1] == '"', quoted);
        var sb = new System.Text.StringBuilder();
        for (int i = 1; i < quoted.Length - 1; i++)
        {
            if (quoted[i] == '\\') i++;
            sb.Append(quoted[i]);
        }
        return sb.ToString();
    }
}
