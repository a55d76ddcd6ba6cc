namespace Lazy;

public class Greeter
{
    public string Name() => "lazy ok";
}
