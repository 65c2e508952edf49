/**
 * Start-up phases of the serving commands (issue 12: a restart serves within a second). With
 * LINEAGE_TRACE_STARTUP=1 each phase's end is one stderr line, `lineage: startup <phase> <ms> ms cpu <ms> ms`:
 * wall time since the process started (performance.now(): node's own bootstrap and the bundle's load are
 * included) and the CPU time the process used so far (user + system, every thread), which a busy machine
 * inflates far less. `npm run bench:startup` reads them. Without the variable it writes nothing.
 */
import type { CommandIo } from "./command.js";

/** Marks the end of one start-up phase (a no-op unless tracing). */
export type StartupMark = (phase: string) => void;

/** The tracer of `io`'s environment: writes to its stderr when LINEAGE_TRACE_STARTUP=1. */
export function startupTrace(io: CommandIo): StartupMark {
  if (io.env.LINEAGE_TRACE_STARTUP !== "1") return () => {};
  return (phase) => {
    const cpu = process.cpuUsage();
    io.stderr.write(
      `lineage: startup ${phase} ${performance.now().toFixed(1)} ms cpu ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms\n`,
    );
  };
}
