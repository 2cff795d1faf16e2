import { run, type BackgroundProcess, type Namespace } from '../netns/index.js';

/** One DNS query seen on the wire. */
export interface CapturedQuery {
  source: string;
  destination: string;
  name: string;
  /** A, AAAA, … as tshark names them. */
  type: string;
}

/**
 * Captures DNS on an interface of a namespace with `tcpdump` (to a pcap file), and reads the queries back with
 * `tshark` — an observer outside every Postern process, so what it sees is what really crossed that wire.
 */
export class DnsCapture {
  private constructor(
    private readonly tcpdump: BackgroundProcess,
    private readonly file: string,
  ) {}

  /** `iface` `any` captures every interface of the namespace. Resolves once tcpdump listens. */
  static async start(host: Namespace, iface: string, file: string): Promise<DnsCapture> {
    // --immediate-mode: each packet is written as it comes (not when a buffer fills), so a query is on file at once.
    // -Z root: tcpdump would otherwise drop to its own user before opening the file, in a directory only root may use.
    const tcpdump = host.spawn('tcpdump', 'tcpdump', [
      '-i',
      iface,
      '-n',
      '--immediate-mode',
      '-U',
      '-Z',
      'root',
      '-w',
      file,
      'port 53',
    ]);
    await tcpdump.waitForOutput(/listening on/, 10_000);
    return new DnsCapture(tcpdump, file);
  }

  /** Stops capturing and returns every query (not the responses) seen since `start`. */
  async stop(): Promise<CapturedQuery[]> {
    await this.tcpdump.stop();
    return readQueries(this.file);
  }

  /** The queries so far, without stopping (tcpdump writes each packet at once with -U). */
  async queries(): Promise<CapturedQuery[]> {
    return readQueries(this.file);
  }
}

async function readQueries(file: string): Promise<CapturedQuery[]> {
  const fields = ['ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'dns.qry.name', 'dns.qry.type'];
  const { stdout } = await run('tshark', [
    '-r',
    file,
    '-Y',
    'dns.flags.response == 0',
    '-T',
    'fields',
    '-E',
    'separator=\t',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [src4, src6, dst4, dst6, name, type] = line.split('\t');
      return {
        source: src4 || src6 || '',
        destination: dst4 || dst6 || '',
        name: (name ?? '').toLowerCase(),
        type: typeName(type ?? ''),
      };
    });
}

// tshark prints the query type as its number with -T fields.
const TYPES: Record<string, string> = { '1': 'A', '28': 'AAAA', '65': 'HTTPS', '12': 'PTR', '16': 'TXT' };
function typeName(value: string): string {
  return TYPES[value] ?? value;
}
