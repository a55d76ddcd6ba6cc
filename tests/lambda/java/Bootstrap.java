import java.io.File;
import java.lang.reflect.Method;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A minimal AWS Lambda runtime for Java, JDK only, for the local Lambda of the tests.
 *
 * It speaks the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) at
 * AWS_LAMBDA_RUNTIME_API with java.net.http over HTTP/1.1, as the real client does:
 *
 *   init:  a class loader over LAMBDA_TASK_ROOT and its lib/*.jar in ordinal order (the real client's
 *          CustomerClassLoader), loads and instantiates the class _HANDLER names ("pkg.Class::method",
 *          or "pkg.Class" for handleRequest); on failure POST /runtime/init/error and exit 1
 *   loop:  GET /runtime/invocation/next, prints "invocation N" on stdout, calls method(String event) ->
 *          POST /runtime/invocation/{id}/response with the String it returns, or /error when it throws
 *
 * The class loader stays open for the life of the process: the JVM reads later classes of the same jar
 * through the descriptor it opened during init.
 */
public final class Bootstrap {
    private static final String API = "/2018-06-01/runtime";

    public static void main(String[] args) throws Exception {
        String base = "http://" + System.getenv("AWS_LAMBDA_RUNTIME_API") + API;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        Object handler;
        Method method;
        try {
            String spec = System.getenv("_HANDLER");
            int colons = spec.indexOf("::");
            String className = colons < 0 ? spec : spec.substring(0, colons);
            String methodName = colons < 0 ? "handleRequest" : spec.substring(colons + 2);
            ClassLoader loader = new URLClassLoader(classPath(System.getenv("LAMBDA_TASK_ROOT")), Bootstrap.class.getClassLoader());
            Class<?> type = Class.forName(className, true, loader);
            handler = type.getDeclaredConstructor().newInstance();
            method = type.getMethod(methodName, String.class);
        } catch (Throwable error) {
            post(http, base + "/init/error", report(error), error);
            System.exit(1);
            return;
        }
        for (int invocation = 1; ; invocation++) {
            HttpResponse<String> next = http.send(HttpRequest.newBuilder(URI.create(base + "/invocation/next")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
            String id = next.headers().firstValue("Lambda-Runtime-Aws-Request-Id").orElse("");
            System.out.println("invocation " + invocation);
            System.out.flush();
            try {
                Object result = method.invoke(handler, next.body());
                post(http, base + "/invocation/" + id + "/response", String.valueOf(result), null);
            } catch (Throwable error) {
                Throwable cause = error.getCause() != null ? error.getCause() : error;
                post(http, base + "/invocation/" + id + "/error", report(cause), cause);
            }
        }
    }

    private static URL[] classPath(String taskRoot) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot + "/").toURI().toURL());
        String[] jars = new File(taskRoot, "lib").list((dir, name) -> name.endsWith(".jar"));
        if (jars != null) {
            Arrays.sort(jars);
            for (String jar : jars) urls.add(new File(new File(taskRoot, "lib"), jar).toURI().toURL());
        }
        return urls.toArray(new URL[0]);
    }

    private static void post(HttpClient http, String url, String body, Throwable error) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", "application/json");
        if (error != null) request.header("Lambda-Runtime-Function-Error-Type", error.getClass().getSimpleName());
        http.send(request.build(), HttpResponse.BodyHandlers.discarding());
    }

    private static String report(Throwable error) {
        return "{\"errorType\":\"" + quote(error.getClass().getSimpleName()) + "\",\"errorMessage\":\"" + quote(String.valueOf(error.getMessage())) + "\"}";
    }

    private static String quote(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
