namespace IronFunction.Events;

/// <summary>
/// A bounded FIFO that never refuses an item: when full, the oldest item makes room and is counted as dropped.
/// Not thread-safe: the caller holds a lock. Enqueue allocates nothing.
/// </summary>
internal sealed class DropOldestQueue<T> where T : class
{
    private readonly T?[] _items;
    private int _head, _count;

    public DropOldestQueue(int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        _items = new T?[capacity];
    }

    public int Count => _count;
    public int Capacity => _items.Length;

    /// <summary>Dropped since the last <see cref="TakeDropped"/>.</summary>
    public long Dropped { get; private set; }

    /// <summary>Adds at the tail; true when the oldest item was dropped to make room.</summary>
    public bool Enqueue(T item)
    {
        if (_count == _items.Length)
        {
            _items[_head] = item;
            _head = (_head + 1) % _items.Length;
            Dropped++;
            return true;
        }
        _items[(_head + _count) % _items.Length] = item;
        _count++;
        return false;
    }

    public bool TryDequeue(out T item)
    {
        if (_count == 0) { item = null!; return false; }
        item = _items[_head]!;
        _items[_head] = null;
        _head = (_head + 1) % _items.Length;
        _count--;
        return true;
    }

    /// <summary>Counts items lost elsewhere (a delivery that failed for good) with the dropped ones.</summary>
    public void AddDropped(long n) => Dropped += n;

    /// <summary>The dropped count, reset: the next delivered item reports it.</summary>
    public long TakeDropped()
    {
        long n = Dropped;
        Dropped = 0;
        return n;
    }
}
