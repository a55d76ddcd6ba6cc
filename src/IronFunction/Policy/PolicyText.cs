using System;
using System.Text;

namespace IronFunction.Policy;

/// <summary>Helpers that keep every policy message on one readable line.</summary>
internal static class PolicyText
{
    private const int MaxQuoted = 80;

    /// <summary>The text with line breaks and control characters escaped, so a message stays one line.</summary>
    public static string OneLine(string text)
    {
        var sb = new StringBuilder(text.Length);
        AppendEscaped(sb, text, int.MaxValue, '\0');
        return sb.ToString();
    }

    /// <summary>The text in double quotes, JSON-escaped and cut to a readable length.</summary>
    public static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        sb.Append('"');
        AppendEscaped(sb, text, MaxQuoted, '"');
        sb.Append('"');
        return sb.ToString();
    }

    /// <summary>One JSON path step: ".name" for identifier-like keys, "['...']" otherwise.</summary>
    public static string Member(string parent, string name)
    {
        bool plain = name.Length > 0 && !char.IsAsciiDigit(name[0]);
        foreach (char c in name) plain &= char.IsAsciiLetterOrDigit(c) || c == '_';
        if (plain) return parent + "." + name;
        var sb = new StringBuilder(parent).Append("['");
        AppendEscaped(sb, name, MaxQuoted, '\'');
        return sb.Append("']").ToString();
    }

    private static void AppendEscaped(StringBuilder sb, string text, int max, char quote)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (i == max) { sb.Append('…'); return; }
            char c = text[i];
            if (c == '\\' || (c == quote && quote != '\0')) sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            // Other controls and the Unicode line/paragraph separators would also break the line.
            else if (char.IsControl(c) || c == '\u2028' || c == '\u2029') sb.Append("\\u").Append(((int)c).ToString("x4"));
            else sb.Append(c);
        }
    }
}
