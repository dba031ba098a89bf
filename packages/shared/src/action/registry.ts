import { ConfigurationError } from './errors';
import { printable } from './show';

/**
 * The implementations of one seam (routers, runtimes, metric sources, rollback methods), by the
 * name an input gives: the one place a seam's implementations are listed. Each seam's registry
 * lives in the folder that owns its interface and holds the built-in implementations; a team adds
 * its own with `register`, before the inputs are read, and changes no file of the core. The names
 * an input accepts, and the error for any other, come from the registry itself.
 */
export class Registry<Entry> {
  private readonly entries = new Map<string, Entry>();

  /** `seam`: what one implementation is called in a message (`router`); `input`: the input that names one. */
  constructor(
    readonly seam: string,
    readonly input: string,
    builtIn: Readonly<Record<string, Entry>>,
  ) {
    for (const [name, entry] of Object.entries(builtIn)) this.register(name, entry);
  }

  /** Adds an implementation under a new name (lower-case letters, digits and hyphens); a name already taken is refused. */
  register(name: string, entry: Entry): this {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(name))
      throw new Error(
        `a ${this.seam} name is lower-case letters, digits and hyphens, starting with a letter (at most 40), got '${printable(name)}'`,
      );
    if (this.entries.has(name)) throw new Error(`a ${this.seam} named ${name} is already registered`);
    this.entries.set(name, entry);
    return this;
  }

  /** The registered names, in the order they were registered (the built-in ones first). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The implementation registered as `name`; any other name is the user's mistake, told with the names there are. */
  get(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ConfigurationError(`Input '${this.input}': ${this.unknown(name)}`);
    return entry;
  }

  /** What an unknown name is told: the names there are, and the one given. */
  unknown(name: string): string {
    return `expected one of ${this.names().join(', ')}, got '${printable(name)}'`;
  }
}
