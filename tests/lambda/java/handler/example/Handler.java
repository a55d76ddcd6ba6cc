package example;

import java.io.File;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The function of the Java local Lambda tests. Its constructor (initialisation) reads its own code; each
 * invocation tries again, reads a data file beside it, and first uses example.Lazy, a class the JVM loads
 * only then (from the same jar, or its own class file). Answers JSON: what each read gave.
 */
public class Handler {
    private final long initRead;

    public Handler() throws Exception {
        initRead = Files.readAllBytes(ownCode()).length;
    }

    /** The file the JVM loaded this class from: its jar, or its class file under the task root. */
    static Path ownCode() throws Exception {
        File location = new File(Handler.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return location.isDirectory() ? location.toPath().resolve("example/Handler.class") : location.toPath();
    }

    public String handleRequest(String event) throws Exception {
        Path self = ownCode();
        Path relative = Path.of(System.getenv("LAMBDA_TASK_ROOT")).relativize(self);
        return "{\"init_read\":" + initRead
            + ",\"self\":\"" + read(self) + "\""
            + ",\"relative\":\"" + read(relative) + "\""
            + ",\"data\":\"" + read(Path.of("data.txt")) + "\""
            + ",\"lazy\":\"" + lazy() + "\"}";
    }

    private static String lazy() {
        return new Lazy().name();
    }

    private static String read(Path path) {
        try {
            return "ok " + Files.readAllBytes(path).length;
        } catch (AccessDeniedException e) {
            return "denied";
        } catch (Exception e) {
            return "error " + e.getClass().getSimpleName();
        }
    }
}
