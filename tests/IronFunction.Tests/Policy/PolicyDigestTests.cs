using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using IronFunction.Policy;
using Xunit;

namespace IronFunction.Tests.Policy;

/// <summary>The policy's SHA-256, which a child checks its policy file against, and what Load makes of it.</summary>
public sealed class PolicyDigestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("iron-policy-digest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Known_answers(string text, string digest) => Assert.Equal(digest, PolicyDigest.Of(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Agrees_with_the_platform_on_any_bytes_and_every_length_around_a_block() =>
        Gen.Byte.Array[0, 300].Sample(bytes =>
            Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), PolicyDigest.Of(bytes)));

    private string Write(string text)
    {
        var path = Path.Combine(_dir, "policy.json");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_loaded_policy_carries_the_digest_of_its_bytes()
    {
        const string text = """{"read_write_tmp":"block"}""";
        var result = PolicyLoader.Load(Write(text));
        Assert.Null(result.Problem);
        Assert.Equal(PolicyDigest.Of(Encoding.UTF8.GetBytes(text)), result.Digest);
    }

    [Fact]
    public void The_parent_s_digest_is_accepted_when_the_bytes_are_the_same()
    {
        const string text = """{"read_write_tmp":"allow"}""";
        var path = Write(text);
        var result = PolicyLoader.Load(path, PolicyDigest.Of(Encoding.UTF8.GetBytes(text)));
        Assert.Null(result.Problem);
        Assert.Equal(PolicyAction.Allow, result.Policy.ReadWriteTmp);
    }

    [Fact]
    public void A_file_swapped_after_the_parent_read_it_fails_closed_and_children_keep_the_parent_s_digest()
    {
        var parent = PolicyDigest.Of(Encoding.UTF8.GetBytes("""{"read_write_tmp":"block"}"""));
        var path = Write("""{"read_write_tmp":"allow"}""");
        var result = PolicyLoader.Load(path, parent);
        Assert.Equal($"policy error in {path}: the file changed after the process that started this one read it; enforcing block on all four controls", result.Problem);
        Assert.Equal(PolicyOrigin.FailClosed, result.Policy.Origin);
        Assert.Equal(PolicyAction.Block, result.Policy.ReadWriteTmp);
        Assert.Equal(parent, result.Digest);
    }

    [Fact]
    public void No_policy_path_where_the_parent_had_a_policy_fails_closed()
    {
        var result = PolicyLoader.Load(null, PolicyDigest.Of("{}"u8));
        Assert.Equal(PolicyOrigin.FailClosed, result.Policy.Origin);
        Assert.Contains("IRON_FUNCTION_POLICY", result.Problem);
    }

    [Fact]
    public void Monitor_mode_has_no_digest() => Assert.Null(PolicyLoader.Load(null).Digest);
}
