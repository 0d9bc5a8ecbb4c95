// App is the JVM seed of the incident: a service that behaves like a Spring
// Boot + Spring Cloud Consul one, with the JDK only (no dependencies).
//
//   GET /                 200 {"service","instance","address","port"} (the
//                         fixture's Identity shape)
//   GET /actuator/health  200 {"status":"UP"}; 503 when the identity header
//                         names another instance
//
// At start it registers with Consul (retrying every second until Consul
// answers) with an HTTP check on its own address, port and health path; a
// JVM shutdown hook (run on SIGTERM, SIGINT, SIGHUP, or System.exit)
// deregisters, then drains. Whether SIGTERM ever reaches the JVM is up to
// whatever runs it: /app/start.sh (bash without exec, the incident) or
// /app/start-exec.sh (the fix).
//
// Environment:
//   SERVICE_NAME               Consul service name (default "app")
//   PORT                       HTTP port (default 8080)
//   HEALTH_PATH                default /actuator/health
//   CONSUL_ADDR                host:port or URL of the Consul agent (default 127.0.0.1:8500)
//   POD_IP                     address to advertise (default: the first non-loopback
//                              IPv4 address, else InetAddress.getLocalHost())
//   INSTANCE_ID                default <service>-<hostname>
//   CHECK_INTERVAL             check interval (default 10s)
//   CHECK_TIMEOUT              check timeout (default 1s)
//   DEREGISTER_CRITICAL_AFTER  the check's DeregisterCriticalServiceAfter, if set
//   IDENTITY_CHECK             off (default) or header: the check sends
//                              X-Instance-Id: <id>, which the health path verifies
//   DRAIN                      sleep after deregistering, before the HTTP server stops (e.g. 2s)
//
// Lifecycle lines go to stdout, one per step, as
//   <RFC 3339 time> jvm-app <event> key=value ...
// with events started, registering, registered, register-retry,
// identity-check-seen (the first health request naming this instance),
// shutdown-hook, deregistered, deregister-failed, drained, stopped.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class App {
    static final String INSTANCE_HEADER = "X-Instance-Id";
    // The Go fixture's header, accepted too so either kind of check works.
    static final String FIXTURE_HEADER = "X-Kubegrace-Instance";

    final String service = env("SERVICE_NAME", "app");
    final int port = Integer.parseInt(env("PORT", "8080"));
    final String healthPath = env("HEALTH_PATH", "/actuator/health");
    final String consul = consulBase(env("CONSUL_ADDR", "127.0.0.1:8500"));
    final String address = advertiseAddress();
    final String instance = env("INSTANCE_ID", service + "-" + hostname());
    final String checkInterval = env("CHECK_INTERVAL", "10s");
    final String checkTimeout = env("CHECK_TIMEOUT", "1s");
    final String deregisterAfter = env("DEREGISTER_CRITICAL_AFTER", "");
    final String identity = env("IDENTITY_CHECK", "off");
    final Duration drain = parseDuration("DRAIN", env("DRAIN", "0s"));

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    final CountDownLatch registrationDone = new CountDownLatch(1);
    volatile boolean stopping;
    final java.util.concurrent.atomic.AtomicBoolean identitySeen = new java.util.concurrent.atomic.AtomicBoolean();
    HttpServer server;

    public static void main(String[] args) throws Exception {
        App app = new App();
        if (!app.identity.equals("off") && !app.identity.equals("header")) {
            System.err.println("jvm-app: invalid IDENTITY_CHECK=\"" + app.identity + "\": want off or header");
            System.exit(2);
        }
        app.start();
    }

    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        long sinceJvm = System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
        log("started", "service=" + service, "instance=" + instance, "address=" + address, "port=" + port,
                "pid=" + ProcessHandle.current().pid(),
                "profile=" + System.getProperty("spring.profiles.active", ""),
                "java=" + System.getProperty("java.version"), "jvm_start_ms=" + sinceJvm);

        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "consul-deregister"));

        Thread reg = new Thread(this::register, "consul-register");
        reg.setDaemon(true);
        reg.start();
    }

    // register retries every second until Consul answers 200, as the app must
    // start before (or without) the Consul Service answering.
    void register() {
        String body = registration();
        log("registering", "consul=" + consul, "check=" + checkURL(), "interval=" + checkInterval,
                "identity=" + identity);
        int attempt = 0;
        try {
            while (!stopping) {
                attempt++;
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul + "/v1/agent/service/register"))
                            .timeout(Duration.ofSeconds(2))
                            .PUT(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        log("registered", "instance=" + instance, "attempts=" + attempt);
                        return;
                    }
                    log("register-retry", "attempt=" + attempt, "status=" + r.statusCode(), "body=" + oneLine(r.body()));
                } catch (IOException e) {
                    log("register-retry", "attempt=" + attempt, "error=" + oneLine(String.valueOf(e)));
                }
                Thread.sleep(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            registrationDone.countDown();
        }
    }

    void shutdown() {
        stopping = true;
        log("shutdown-hook", "instance=" + instance);
        try {
            // A registration in flight may still land; wait for it briefly so
            // the deregistration comes after it.
            registrationDone.await(3, java.util.concurrent.TimeUnit.SECONDS);
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul + "/v1/agent/service/deregister/" + instance))
                    .timeout(Duration.ofSeconds(3))
                    .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                log("deregistered", "instance=" + instance);
            } else {
                log("deregister-failed", "status=" + r.statusCode(), "body=" + oneLine(r.body()));
            }
        } catch (IOException e) {
            log("deregister-failed", "error=" + oneLine(String.valueOf(e)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!drain.isZero()) {
            try {
                Thread.sleep(drain.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            log("drained", "drain=" + drain.toMillis() + "ms");
        }
        server.stop(0);
        log("stopped", "instance=" + instance);
    }

    void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (!ex.getRequestMethod().equals("GET")) {
                reply(ex, 405, "{\"error\":\"method not allowed\"}");
            } else if (path.equals("/")) {
                reply(ex, 200, "{\"service\":" + q(service) + ",\"instance\":" + q(instance)
                        + ",\"address\":" + q(address) + ",\"port\":" + port + "}");
            } else if (path.equals(healthPath) || path.equals(healthPath + "/")) {
                String want = ex.getRequestHeaders().getFirst(INSTANCE_HEADER);
                if (want == null || want.isEmpty()) {
                    want = ex.getRequestHeaders().getFirst(FIXTURE_HEADER);
                }
                if (want != null && !want.isEmpty() && !want.equals(instance)) {
                    reply(ex, 503, "{\"status\":\"DOWN\",\"reason\":"
                            + q("check is for instance " + want + ", this is " + instance) + "}");
                } else {
                    if (want != null && !want.isEmpty() && identitySeen.compareAndSet(false, true)) {
                        log("identity-check-seen", "header=" + INSTANCE_HEADER, "instance=" + want);
                    }
                    reply(ex, 200, "{\"status\":\"UP\"}");
                }
            } else {
                reply(ex, 404, "{\"error\":\"not found\"}");
            }
        }
    }

    static void reply(HttpExchange ex, int code, String json) throws IOException {
        byte[] b = (json + "\n").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    String checkURL() {
        String host = address.contains(":") ? "[" + address + "]" : address;
        return "http://" + host + ":" + port + healthPath;
    }

    String registration() {
        StringBuilder check = new StringBuilder()
                .append("{\"CheckID\":").append(q("service:" + instance))
                .append(",\"Name\":").append(q("HTTP " + healthPath))
                .append(",\"HTTP\":").append(q(checkURL()))
                .append(",\"Method\":\"GET\"")
                .append(",\"Interval\":").append(q(checkInterval))
                .append(",\"Timeout\":").append(q(checkTimeout));
        if (identity.equals("header")) {
            check.append(",\"Header\":{").append(q(INSTANCE_HEADER)).append(":[").append(q(instance)).append("]}");
        }
        if (!deregisterAfter.isEmpty()) {
            check.append(",\"DeregisterCriticalServiceAfter\":").append(q(deregisterAfter));
        }
        check.append('}');
        return "{\"ID\":" + q(instance) + ",\"Name\":" + q(service) + ",\"Address\":" + q(address)
                + ",\"Port\":" + port
                + ",\"Meta\":{\"instance\":" + q(instance) + ",\"identity_check\":" + q(identity) + ",\"runtime\":\"jvm\"}"
                + ",\"Check\":" + check + "}";
    }

    static synchronized void log(String event, String... kv) {
        StringBuilder sb = new StringBuilder().append(Instant.now()).append(" jvm-app ").append(event);
        for (String s : kv) {
            sb.append(' ').append(s);
        }
        System.out.println(sb);
        System.out.flush();
    }

    static String env(String name, String def) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? def : v;
    }

    static String consulBase(String addr) {
        String base = addr.contains("://") ? addr : "http://" + addr;
        return base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    static String hostname() {
        String h = System.getenv("HOSTNAME");
        if (h != null && !h.isEmpty()) {
            return h;
        }
        try {
            return Files.readString(Path.of("/etc/hostname")).trim();
        } catch (IOException e) {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (IOException e2) {
                return "unknown";
            }
        }
    }

    // advertiseAddress is POD_IP, else the first non-loopback IPv4 address of
    // an up interface (what a container on a bridge or a Pod has), else
    // whatever the hostname resolves to.
    static String advertiseAddress() {
        String ip = System.getenv("POD_IP");
        if (ip != null && !ip.isEmpty()) {
            return ip;
        }
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!ni.isUp() || ni.isLoopback()) {
                    continue;
                }
                for (InetAddress a : Collections.list(ni.getInetAddresses())) {
                    if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
                        return a.getHostAddress();
                    }
                }
            }
            return InetAddress.getLocalHost().getHostAddress();
        } catch (IOException e) {
            return "127.0.0.1";
        }
    }

    static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m)?");

    static Duration parseDuration(String var, String v) {
        Matcher m = DURATION.matcher(v.trim());
        if (!m.matches()) {
            System.err.println("jvm-app: invalid " + var + "=\"" + v + "\": want e.g. 500ms, 2s or 1m");
            System.exit(2);
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        switch (unit) {
            case "ms": return Duration.ofMillis(n);
            case "m": return Duration.ofMinutes(n);
            default: return Duration.ofSeconds(n);
        }
    }

    static String oneLine(String s) {
        s = s.replaceAll("\\s+", " ").trim();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }
}
