namespace IronFunction.Cli;

public static class LearnCommand
{
    public static int Run(string[] args) => throw new FailedException("learn is not built yet");
}
