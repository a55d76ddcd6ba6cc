package example;

/** Loaded by the JVM at its first use, during an invocation: after read_handler armed. */
public class Lazy {
    public String name() {
        return "lazy ok";
    }
}
