/**
 * Just enough of the Dockerfile and compose formats to check, without a container engine, what an image would
 * run: instructions with their continuation lines joined, ENV in both forms, exec-form commands, and compose's
 * `${VAR:-default}` interpolation (defaults only: the checks must hold for an operator who sets nothing).
 */

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      l = `${l.replace(/\\\s*$/, ' ')}${lines[++i]!.replace(/^\s*#.*$/, '')}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

/** ENV key=value pairs (quotes removed) and the legacy `ENV key value` form, later ones winning. */
export function imageEnv(ins: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of ins) {
    if (op !== 'ENV') continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
      const [k, ...v] = args.split(/\s+/);
      env[k!] = v.join(' ');
      continue;
    }
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) env[m[1]!] = m[3] ?? m[2]!;
  }
  return env;
}

/** The last CMD in exec form (shell-form commands are refused: they do not receive SIGTERM). */
export function imageCmd(ins: Instruction[]): string[] {
  const cmd = ins.filter((i) => i.op === 'CMD').at(-1);
  if (!cmd) throw new Error('no CMD');
  const parsed = JSON.parse(cmd.args);
  if (!Array.isArray(parsed)) throw new Error(`CMD is not in exec form: ${cmd.args}`);
  return parsed as string[];
}

/** Compose interpolation with defaults: `${X:-d}` and `${X-d}` become d, `${X}` becomes ''. */
export function interpolateDefaults(v: string): string {
  return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}/g, (_m, _name, _d, def) => def ?? '');
}
