package dev.pdserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The one binary: {@code pdserve <subcommand>}. Each subcommand is a class of its own in this package. */
@Command(name = "pdserve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Prefill/decode disaggregated LLM inference server.")
public final class Main implements Runnable {
    static {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }

    public static void main(String[] args) {
        // vLLM's parser reads --max_model_len as --max-model-len; so does serve.
        if (args.length > 0 && args[0].equals("serve")) args = VllmFlags.dashes(args);
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
        VllmFlags.register(cl.getSubcommands().get("serve").getCommandSpec());
        // A mistyped flag: its one-line error and where to look, not the whole usage above it.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("error: " + ex.getMessage());
            if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                cmd.getErr().println("Did you mean: " + u.getSuggestions().getFirst() + "?"); // the closest
            }
            String name = cmd.getCommandSpec().qualifiedName();
            cmd.getErr().println("Try '" + name + " --help' for " + (cmd.getSubcommands().isEmpty() ? "its options." : "the commands."));
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("error: " + ex.getMessage());
            if (System.getenv("PDSERVE_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    @Spec CommandSpec spec;

    /** {@code pdserve} alone: the usage with the list of commands. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"pdserve " + (v == null ? "dev" : v)};
        }
    }
}
