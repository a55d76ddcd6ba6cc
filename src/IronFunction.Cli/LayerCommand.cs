namespace IronFunction.Cli;

public static class LayerCommand
{
    public static int Run(string[] args) => throw new FailedException("layer is not built yet");
}
