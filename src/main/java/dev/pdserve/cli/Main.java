package dev.pdserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The one binary: {@code pdserve <subcommand>}. Each subcommand is a class of its own in this package. */
@Command(name = "pdserve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Prefill/decode disaggregated LLM inference server.")
public final class Main implements Runnable {
    static {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        // One line per subcommand, in the order `pdserve --help` lists them.
        cl.addSubcommand(new DemoCommand());
        cl.addSubcommand(new GenerateCommand());
        cl.addSubcommand(new QuantizeCommand());
        cl.addSubcommand(new ServeCommand());
        cl.addSubcommand(new ProxyCommand());
        cl.addSubcommand(new BenchCommand());
        cl.addSubcommand(new RanktableCommand());
        cl.addSubcommand(new DoctorCommand());
        cl.addSubcommand(new RandomModelCommand());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("error: " + ex.getMessage());
            if (System.getenv("PDSERVE_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pdserve " + (v == null ? "dev" : v)};
        }
    }
}
