import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Runs a program (never a shell string) and returns its stdout; rejects with its stderr on a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? -1 };
      if (result.code === 0 || options.allowFailure) return resolve(result);
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      reject(new Error(`${cmd} ${args.join(' ')}: ${why}\n${result.stderr.trim()}`));
    });
    child.stdin.end(options.input);
  });
}

/** A long-running process whose output is kept for waiting on and for the test log. */
export class BackgroundProcess {
  readonly output: string[] = [];
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    const collect = (d: Buffer) => this.output.push(d.toString());
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
      child.on('error', (e) => {
        this.output.push(`spawn error: ${e.message}`);
        this.exitCode = -1;
        resolve();
      });
    });
  }

  static start(label: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): BackgroundProcess {
    return new BackgroundProcess(label, spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
  }

  get text(): string {
    return this.output.join('');
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves when the output so far matches; rejects on exit or timeout, with the output in the message. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.text.match(pattern);
      if (m) return m;
      if (!this.running) throw new Error(`${this.label} exited (${this.exitCode}) before ${pattern}:\n${this.text}`);
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<number | null | undefined> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exitCode;
  }

  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  wait(): Promise<void> {
    return this.exited;
  }
}
