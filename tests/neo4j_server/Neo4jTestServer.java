import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Embedded Neo4j Community with Bolt on a loopback port, auth disabled, for tests.
 *
 * <p>Usage: {@code java -cp LIB/*:. Neo4jTestServer PORT HOME_DIR [PAGECACHE_MB] [--watch-stdin]}
 *
 * <p>Prints {@code READY bolt://127.0.0.1:PORT} on stdout once the default database is available.
 * Shuts down cleanly on SIGTERM / SIGINT, and with {@code --watch-stdin} also when stdin reaches EOF
 * (so the server dies with the process that started it).
 */
public final class Neo4jTestServer {
    private static final String HOST = "127.0.0.1";
    private static final long AVAILABLE_TIMEOUT_MS = 120_000;

    private Neo4jTestServer() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 2) {
            System.err.println("usage: Neo4jTestServer PORT HOME_DIR [PAGECACHE_MB] [--watch-stdin]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path home = Path.of(args[1]).toAbsolutePath();
        long pageCacheMb = 96;
        boolean watchStdin = false;
        for (int i = 2; i < args.length; i++) {
            if (args[i].equals("--watch-stdin")) {
                watchStdin = true;
            } else {
                pageCacheMb = Long.parseLong(args[i]);
            }
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheMb * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // Netty's default 5 s quiet period (paid twice) would make every shutdown take ~10 s.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                dbms.shutdown();
            } finally {
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(AVAILABLE_TIMEOUT_MS)) {
            System.err.println("database did not become available within " + AVAILABLE_TIMEOUT_MS + " ms");
            System.exit(1);
        }
        System.out.println("READY bolt://" + HOST + ":" + port);
        System.out.flush();

        if (watchStdin) {
            Thread watcher = new Thread(Neo4jTestServer::exitOnStdinEof, "stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        stopped.await();
    }

    private static void exitOnStdinEof() {
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // Discard input; only EOF matters.
            }
        } catch (IOException ignored) {
            // A broken stdin means the parent is gone, same as EOF.
        }
        System.exit(0);
    }
}
