// Parent side of the hostile property layer: runs cases in a child process that imports the built library
// from dist/, so that a case may crash (segfault, V8 out-of-memory abort), hang or eat memory without taking
// the test runner down. The child (hostile-child.ts) is TypeScript: it and the test files it imports are
// transpiled into a temporary directory whose `src` links to dist/src, so its `../../src/...` imports load
// the build. One child runs one case at a time; a crash, a hang past the time limit, or RSS past the kill
// limit ends it, the case is reported as that failure, and the next case starts a fresh child.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { HostileCase, Outcome } from './hostile-types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');

export interface Limits {
  /**
   * The call's time limit (the child fails a slower call as 'slow'); a case with no answer 5 s (or half
   * the limit) later, building the arguments and the float64 oracle included, is a hang: the child is killed.
   */
  caseMs: number;
  /** Peak RSS above this fails the case (the child reports its peak after each case). */
  rssLimit: number;
  /** RSS above this (polled while a case runs) kills the child at once: a runaway allocation. */
  rssKill: number;
  /** A child whose peak RSS passed this is replaced before the next case, so peaks stay per case. */
  rssRecycle: number;
}

export const DEFAULT_LIMITS: Limits = {
  caseMs: 10_000,
  rssLimit: 1.5 * 2 ** 30,
  rssKill: 2 * 2 ** 30,
  rssRecycle: 512 * 2 ** 20,
};

/** dist/ must be at least as new as src/, or the child would test old code. */
export function checkBuild(): string | null {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const js = path.join(root, 'dist', path.relative(root, p)).replace(/\.ts$/, '.js');
        if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(p).mtimeMs) stale.push(path.relative(root, p));
      }
    }
  };
  walk(path.join(root, 'src'));
  return stale.length
    ? `dist/ is older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', ...' : ''}: run \`npm run build:ts\` first (npm test does)`
    : null;
}

/** Transpiles the child and the test files it imports into a temporary directory; returns the child's path. */
export function prepareChild(): { script: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastconv-hostile-'));
  fs.symlinkSync(path.join(root, 'dist', 'src'), path.join(dir, 'src'), 'dir');
  const done = new Set<string>();
  const emit = (file: string) => {
    if (done.has(file)) return;
    done.add(file);
    const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    }).outputText;
    const dest = path.join(dir, path.relative(root, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out);
    // Follow the imports that survived transpiling (type-only ones are gone): test files are emitted too.
    for (const [, spec] of out.matchAll(/(?:from|import)\s*['"]([^'"]+)['"]/g)) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      const rel = path.relative(root, target);
      if (rel.startsWith(`src${path.sep}`)) continue;
      if (!rel.startsWith(`test${path.sep}`) || !fs.existsSync(target))
        throw new Error(`the hostile child imports ${spec} from ${file}, which is neither src/ nor a test file`);
      emit(target);
    }
  };
  emit(path.join(here, 'hostile-child.ts'));
  return { script: path.join(dir, 'test', 'fuzz', 'hostile-child.js'), dir };
}

interface Pending {
  id: number;
  c: HostileCase;
  child: ChildProcess;
  resolve: (o: Outcome) => void;
  timer: NodeJS.Timeout;
  poll: NodeJS.Timeout;
  started: number;
}

/** The child's stderr, last few KiB: crash reports and aborts print there. */
class Tail {
  private text = '';
  push(s: string) {
    this.text = (this.text + s).slice(-6000);
  }
  get(): string {
    return this.text.trim();
  }
}

export class HostilePool {
  private child: ChildProcess | null = null;
  private ready: Promise<Record<string, boolean>> | null = null;
  private pending: Pending | null = null;
  private nextId = 1;
  private stderr = new Tail();
  private killedFor: string | null = null;
  /** What the child said it can run (from its ready line). */
  available: Record<string, boolean> = {};
  spawned = 0;

  constructor(
    private readonly script: string,
    private readonly limits: Limits = DEFAULT_LIMITS
  ) {}

  private start(): Promise<Record<string, boolean>> {
    this.stderr = new Tail();
    this.killedFor = null;
    // Relaxed SIMD validates in Node 20 only with this flag; the JS heap is capped below the kill limit so a
    // runaway JS allocation aborts (a crash the report names) rather than swapping.
    const child = spawn(process.execPath, ['--experimental-wasm-relaxed-simd', '--max-old-space-size=1536', this.script], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, FASTCONV_HOSTILE_CASE_MS: String(this.limits.caseMs) },
    });
    this.child = child;
    this.spawned++;
    let buf = '';
    let onReady: (a: Record<string, boolean>) => void, onFail: (e: Error) => void;
    const ready = new Promise<Record<string, boolean>>((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    ready.catch(() => {}); // awaited by run(); a child stopped before it was ready needs no handler
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('@@ ')) {
          this.stderr.push(`[stdout] ${line}\n`);
          continue;
        }
        const msg = JSON.parse(line.slice(3));
        if (msg.ready) {
          this.available = msg.available;
          onReady(msg.available);
          continue;
        }
        const p = this.pending;
        if (p && msg.id === p.id) {
          this.settle({
            status: msg.status,
            what: msg.what,
            detail: msg.detail,
            ms: msg.ms,
            callMs: msg.callMs,
            peakRss: msg.peakRss,
            error: msg.error,
            ran: msg.ran,
          });
        }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => this.stderr.push(d));
    child.on('exit', (code, signal) => {
      if (this.child === child) {
        this.child = null;
        this.ready = null;
      }
      const why = this.killedFor;
      const tail = this.stderr.get();
      onFail(new Error(`the hostile child exited before it was ready (code ${code}, signal ${signal}):\n${tail}`));
      // A child replaced after its case (recycled) exits while the next child runs the next case.
      if (!this.pending || this.pending.child !== child) return;
      if (why) {
        this.settle({
          status: 'fail',
          what: why.split(':')[0],
          detail: `${why}\nstderr tail:\n${tail}`,
          ms: Date.now() - this.pending.started,
          peakRss: 0,
        });
        return;
      }
      const oom = /heap out of memory|Allocation failed|OOM|out of memory/i.test(tail);
      this.settle({
        status: 'fail',
        what: oom ? 'oom-abort' : 'crash',
        detail: `the child process died: ${signal ? `signal ${signal}` : `exit code ${code}`}\nstderr tail:\n${tail}`,
        ms: Date.now() - this.pending.started,
        peakRss: 0,
      });
    });
    child.stdin!.on('error', () => {}); // a dead child's stdin: the exit handler reports the case
    return ready;
  }

  private settle(o: Outcome): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    clearInterval(p.poll);
    if (o.status === 'pass' && o.peakRss > this.limits.rssLimit) {
      o = {
        ...o,
        status: 'fail',
        what: 'rss',
        detail: `peak RSS ${(o.peakRss / 2 ** 20).toFixed(0)} MiB, over the ${(this.limits.rssLimit / 2 ** 20).toFixed(0)} MiB limit (${o.detail})`,
      };
    }
    // Keep each case's peak its own: a child that has grown is replaced.
    if (o.peakRss > this.limits.rssRecycle && this.child) this.stop();
    p.resolve(o);
  }

  private kill(why: string): void {
    if (!this.child || this.killedFor) return;
    this.killedFor = why;
    this.child.kill('SIGKILL');
  }

  private rssOf(pid: number): number {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  /** Runs one case; with `selfCheck` the child perturbs the result before judging it (the oracle must object). */
  async run(c: HostileCase, selfCheck = false): Promise<Outcome> {
    if (!this.child || !this.ready) this.ready = this.start();
    await this.ready;
    const child = this.child!;
    return new Promise<Outcome>((resolve) => {
      const id = this.nextId++;
      const started = Date.now();
      const limit = Math.max(1.5 * this.limits.caseMs, this.limits.caseMs + 5000);
      const timer = setTimeout(() => this.kill(`hang: no answer after ${limit} ms`), limit);
      const poll = setInterval(() => {
        const rss = this.rssOf(child.pid!);
        if (rss > this.limits.rssKill)
          this.kill(
            `rss: ${(rss / 2 ** 20).toFixed(0)} MiB while running, over the ${(this.limits.rssKill / 2 ** 20).toFixed(0)} MiB kill limit`
          );
      }, 20);
      this.pending = { id, c, child, resolve, timer, poll, started };
      child.stdin!.write(`${JSON.stringify({ id, c, selfCheck })}\n`);
    });
  }

  stop(): void {
    const child = this.child;
    this.child = null;
    this.ready = null;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
