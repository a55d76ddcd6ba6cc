using System.Buffers.Binary;

namespace IronFunction.Rules;

/// <summary>
/// Just enough of the zip format (APPNOTE.TXT §4.3) to tell whether a jar holds a class: where the central
/// directory lies, from the end-of-central-directory record (zip64 too), and whether it names an entry.
/// Pure; the caller reads the bytes. Anything malformed answers "not found", never throws.
/// </summary>
public static class ZipDirectory
{
    private const uint EndSignature = 0x06054b50, Zip64LocatorSignature = 0x07064b50, Zip64EndSignature = 0x06064b50, EntrySignature = 0x02014b50;
    private const int EndLength = 22, Zip64LocatorLength = 20, Zip64EndLength = 56, EntryLength = 46;

    /// <summary>How many of a file's last bytes hold its end record: the record and the longest comment, and a zip64 locator before them.</summary>
    public const int TailLength = EndLength + ushort.MaxValue + Zip64LocatorLength;

    /// <summary>The central directory's place in the file, or where the zip64 end record is to be read first.</summary>
    public readonly record struct Location(long Offset, long Size, long Zip64EndOffset)
    {
        public bool NeedsZip64End => Zip64EndOffset >= 0;
    }

    /// <summary>
    /// From <paramref name="tail"/>, the last bytes of a file of <paramref name="fileLength"/> bytes: where its
    /// central directory lies (or where its zip64 end record lies), or null when there is no end record.
    /// </summary>
    public static Location? Locate(ReadOnlySpan<byte> tail, long fileLength)
    {
        if (fileLength < tail.Length) return null;
        // the last end signature whose comment reaches exactly the end of the file
        for (int at = tail.Length - EndLength; at >= 0; at--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail[at..]) != EndSignature) continue;
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(tail[(at + 20)..]);
            if (at + EndLength + commentLength != tail.Length) continue;
            long endOffset = fileLength - tail.Length + at;
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(tail[(at + 12)..]);
            uint offset = BinaryPrimitives.ReadUInt32LittleEndian(tail[(at + 16)..]);
            ushort entries = BinaryPrimitives.ReadUInt16LittleEndian(tail[(at + 10)..]);
            if (size == uint.MaxValue || offset == uint.MaxValue || entries == ushort.MaxValue)
            {
                if (at < Zip64LocatorLength || BinaryPrimitives.ReadUInt32LittleEndian(tail[(at - Zip64LocatorLength)..]) != Zip64LocatorSignature) return null;
                long zip64End = BinaryPrimitives.ReadInt64LittleEndian(tail[(at - Zip64LocatorLength + 8)..]);
                return zip64End < 0 || zip64End > endOffset - Zip64LocatorLength ? null : new Location(0, 0, zip64End);
            }
            return Within(offset, size, endOffset);
        }
        return null;
    }

    /// <summary>The central directory's place from a zip64 end record (the bytes read at <see cref="Location.Zip64EndOffset"/>).</summary>
    public static Location? LocateZip64(ReadOnlySpan<byte> record, long zip64EndOffset)
    {
        if (record.Length < Zip64EndLength || BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature) return null;
        long size = BinaryPrimitives.ReadInt64LittleEndian(record[40..]);
        long offset = BinaryPrimitives.ReadInt64LittleEndian(record[48..]);
        return size < 0 || offset < 0 ? null : Within(offset, size, zip64EndOffset);
    }

    /// <summary>Where the directory really is: right before its end record when data was prepended to the archive (offsets then point too early).</summary>
    private static Location? Within(long offset, long size, long endOffset)
    {
        if (size > endOffset) return null;
        return new Location(offset + size == endOffset ? offset : endOffset - size, size, -1);
    }

    /// <summary>Whether the central directory names <paramref name="name"/> exactly (a file entry, as a class loader looks it up).</summary>
    public static bool Contains(ReadOnlySpan<byte> directory, ReadOnlySpan<byte> name)
    {
        int at = 0;
        while (at + EntryLength <= directory.Length && BinaryPrimitives.ReadUInt32LittleEndian(directory[at..]) == EntrySignature)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(at + 28)..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(at + 30)..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(at + 32)..]);
            int next = at + EntryLength + nameLength + extraLength + commentLength;
            if (at + EntryLength + nameLength > directory.Length) return false;
            if (directory.Slice(at + EntryLength, nameLength).SequenceEqual(name)) return true;
            at = next;
        }
        return false;
    }
}
