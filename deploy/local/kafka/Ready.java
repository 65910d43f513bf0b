// Ready asks a Kafka broker for cluster metadata and exits 0 only when at least one broker
// answers. scripts/start-kafka runs it in Java's single-file source mode
// (java -cp "$CACHE/lib/*" Ready.java 127.0.0.1:9092) so that "ready" means a real client
// got metadata, not merely that a port is open or a log line appeared.
import java.util.Collection;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public class Ready {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Ready <bootstrap-servers>");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "8000");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "clearway-start-kafka");
        try (Admin admin = Admin.create(props)) {
            DescribeClusterResult cluster = admin.describeCluster();
            Collection<Node> nodes = cluster.nodes().get(10, TimeUnit.SECONDS);
            String id = cluster.clusterId().get(10, TimeUnit.SECONDS);
            if (nodes.isEmpty()) {
                System.err.println("metadata answered with no brokers");
                System.exit(1);
            }
            System.out.println("cluster " + id + ": " + nodes.size() + " broker(s)");
        } catch (Exception e) {
            System.err.println("metadata request failed: " + e);
            System.exit(1);
        }
    }
}
