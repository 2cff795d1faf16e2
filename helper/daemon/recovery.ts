import type { Logger } from 'pino';
import { recoverDns } from '../dns/dns-control.js';
import type { RunCommand } from '../os/command.js';
import { removeRecorded } from '../os/routes.js';
import type { StateFile } from '../os/state-file.js';

/**
 * Undoes what a previous run left in the OS — it crashed, was killed with SIGKILL, or the machine lost power — from
 * its state file: restores DNS, removes routes and rules. Runs at every start before anything else.
 */
export async function recoverPreviousRun(state: StateFile, run: RunCommand, log: Logger): Promise<void> {
  const previous = state.readPrevious();
  if (!previous.ok) {
    const aside = state.quarantine();
    log.error({ reason: previous.error, movedTo: aside }, 'cannot undo the previous run: its state file is unreadable');
    return;
  }
  if (!previous.state) return;
  log.warn({ pid: previous.state.pid }, 'the previous run did not exit cleanly; undoing its changes');
  state.adopt(previous.state);
  if (previous.state.dns) await recoverDns(previous.state.dns, { state, log, run });
  await removeRecorded(run, state, log);
  state.clear();
  log.info('previous run undone');
}
