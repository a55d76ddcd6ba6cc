namespace IronFunction.Cli;

public static class InvokeCommand
{
    public static int Run(string[] args) => throw new FailedException("invoke is not built yet");
}
