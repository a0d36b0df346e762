package dev.pdserve.http;

import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A server's routes, remembered so that whatever no route takes gets a JSON answer: a known path
 * with another method is 405 with {@code Allow}, any other path 404 (Helidon would answer
 * {@code text/plain} 404 to both). Call {@link #finish()} after the last route.
 */
public final class Routes {
    private final HttpRouting.Builder routing;
    private final Map<String, Set<String>> methods = new LinkedHashMap<>();

    public Routes(HttpRouting.Builder routing) { this.routing = routing; }

    public Routes get(String path, Handler handler) { return add(Method.GET, path, handler); }

    public Routes post(String path, Handler handler) { return add(Method.POST, path, handler); }

    private Routes add(Method method, String path, Handler handler) {
        routing.route(method, path, handler);
        Set<String> allowed = methods.computeIfAbsent(path, p -> new LinkedHashSet<>());
        allowed.add(method.text());
        if (method == Method.GET) {
            routing.route(Method.HEAD, path, handler); // HEAD is GET without the body, which Helidon leaves out
            allowed.add(Method.HEAD.text());
        }
        return this;
    }

    /** The 405s for the known paths, then 404 for everything else. */
    public void finish() {
        for (Map.Entry<String, Set<String>> e : methods.entrySet()) {
            String allow = String.join(", ", e.getValue());
            routing.any(e.getKey(), (req, res) -> {
                res.header(HeaderNames.ALLOW, allow);
                HttpEdge.sendError(res, new ApiException(405, null, "Method " + req.prologue().method().text()
                        + " is not allowed on " + e.getKey() + "; allowed: " + allow));
            });
        }
        routing.any((req, res) -> HttpEdge.sendError(res, new ApiException(404, null,
                "Not Found: " + req.prologue().method().text() + " " + req.path().rawPath())));
    }
}
