using CsCheck;
using IronFunction.Events;

namespace IronFunction.Tests.Events;

/// <summary>The bounded queue between hooked calls and the delivery thread: overflow drops the oldest, and counts it.</summary>
public class DropOldestQueueTests
{
    [Fact]
    public void Overflow_drops_the_oldest_and_counts_it()
    {
        var q = new DropOldestQueue<string>(3);
        Assert.False(q.Enqueue("a"));
        Assert.False(q.Enqueue("b"));
        Assert.False(q.Enqueue("c"));
        Assert.True(q.Enqueue("d"));
        Assert.True(q.Enqueue("e"));
        Assert.Equal(3, q.Count);
        Assert.Equal(2, q.Dropped);
        Assert.True(q.TryDequeue(out var first));
        Assert.Equal("c", first);
        Assert.Equal(2, q.TakeDropped());
        Assert.Equal(0, q.Dropped);
        q.AddDropped(1);
        Assert.Equal(1, q.TakeDropped());
        Assert.True(q.TryDequeue(out var second) && second == "d");
        Assert.True(q.TryDequeue(out var third) && third == "e");
        Assert.False(q.TryDequeue(out _));
    }

    [Fact]
    public void A_queue_needs_room_for_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DropOldestQueue<string>(0));
    }

    /// <summary>Any interleaving of enqueues and dequeues matches a plain list model: FIFO, the newest kept, every item delivered or counted.</summary>
    [Fact]
    public void Property_matches_a_list_model()
    {
        Gen.Select(Gen.Int[1, 8], Gen.Bool.Array[0, 200]).Sample((capacity, ops) =>
        {
            var q = new DropOldestQueue<string>(capacity);
            var model = new List<string>();
            long dropped = 0, delivered = 0, next = 0;
            foreach (var enqueue in ops)
            {
                if (enqueue)
                {
                    var item = (next++).ToString();
                    model.Add(item);
                    if (model.Count > capacity) { model.RemoveAt(0); dropped++; }
                    q.Enqueue(item);
                }
                else
                {
                    bool got = q.TryDequeue(out var item);
                    Assert.Equal(model.Count > 0, got);
                    if (got)
                    {
                        Assert.Equal(model[0], item);
                        model.RemoveAt(0);
                        delivered++;
                    }
                }
                Assert.Equal(model.Count, q.Count);
                Assert.Equal(dropped, q.Dropped);
            }
            Assert.Equal(next, delivered + dropped + q.Count);
        }, iter: 3000);
    }
}
