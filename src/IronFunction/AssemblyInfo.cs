[module: System.Runtime.CompilerServices.SkipLocalsInit]
// the event record, coalescer, queue and HTTP reader are unit-tested without a preload
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("IronFunction.Tests")]
