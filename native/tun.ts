import { withContext, type NativeAddon, type NativeTunHandle } from './addon.js';
import { linuxInterfaceNameProblem } from './interface-name.js';
import { defaultRuntime, requireSupportedPlatform, type NativeRuntime } from './platform.js';

export interface TunOpenOptions {
  /**
   * Interface name (Linux: at most 15 bytes), or a template with one `%d` that the kernel fills with the first free
   * number (`pt%d` → `pt0`). Default: the OS chooses (`tun%d` on Linux). An existing persistent TUN device of that
   * name is attached to (and then not removed by close()); one another process has open fails with EBUSY.
   */
  name?: string;
  /** MTU in bytes, 68–65535, set before the interface is brought up. */
  mtu: number;
  /** Most packets in one batch (default 128). */
  maxBatchPackets?: number;
  /**
   * Batches read but not yet returned from the packet handler before the reader stops reading (default 4). Past it
   * the kernel's queue fills and the kernel drops, as a NIC would, counted in the interface's TX dropped statistics.
   */
  maxPendingBatches?: number;
}

/**
 * Receives one batch: the packets read in one go, oldest first. Each is a Buffer view into one shared slab (no
 * copy); keep the views as long as needed — the slab lives until the last view is garbage-collected. A batch counts
 * as handled when the handler returns (asynchronous work after that is not back-pressured; use pause()). An
 * exception thrown by the handler becomes an uncaught exception, as from any event handler.
 */
export type PacketHandler = (packets: Buffer[]) => void;

/** A fatal read error (e.g. EBADFD when the interface was deleted). Reading has stopped; close() the device. */
export type TunErrorHandler = (error: NodeJS.ErrnoException) => void;

export interface TunStats {
  /** Packets, bytes and batches read from the device. */
  packetsRead: number;
  bytesRead: number;
  batchesRead: number;
  /** Read but never handed to a handler: the device was closed (or the handler removed) while they were queued. */
  packetsDiscarded: number;
  /** Packets and bytes the kernel accepted from write()/writePacket(). */
  packetsWritten: number;
  bytesWritten: number;
  /** Writes the kernel would have blocked (EAGAIN/ENOBUFS): the packet was dropped and counted here. */
  writesDropped: number;
  /** Writes the kernel rejected (e.g. EINVAL: not an IPv4/IPv6 packet, or empty). */
  writeErrors: number;
  /** errno code of the last dropped or rejected write, e.g. "EINVAL". */
  lastWriteError?: string;
}

const DEFAULT_MAX_BATCH_PACKETS = 128;
const DEFAULT_MAX_PENDING_BATCHES = 4;

/**
 * A TUN device (layer 3: whole IPv4/IPv6 packets, no link header) owned by this process.
 *
 * Reading runs on a native thread and delivers batches to `onPackets`. It runs while the device is open, a packet
 * handler is set, reading is not paused and no read error occurred.
 *
 * Event loop: while reading runs, the device keeps the process alive (like a listening socket); unref() lets the
 * process exit anyway, ref() undoes that. A paused, closed or failed device, or one without a packet handler, never
 * keeps the process alive. A process that exits with the device open closes it (the native cleanup hook stops the
 * thread and closes the descriptor).
 *
 * Addresses and routes are the caller's job (`ip addr`, `ip route`). The device is up with the MTU given; moving
 * it to another network namespace (`ip link set NAME netns NS`) keeps the descriptor working but takes the link
 * down there. `name` and `ifindex` are as at open time in the namespace that opened it.
 *
 * Not thread-safe across worker threads: use a device from the thread that opened it.
 */
export class TunDevice {
  /** The interface name the kernel gave (a `%d` template filled in). */
  readonly name: string;
  /** The interface index at open time. */
  readonly ifindex: number;
  readonly mtu: number;

  readonly #handle: NativeTunHandle;
  #packetHandler: PacketHandler | undefined;
  #errorHandler: TunErrorHandler | undefined;
  #paused = false;
  #refed = true;
  #failed = false;
  #closed = false;
  #discarded = 0;

  /**
   * Creates (or attaches to) a TUN device, sets its MTU and brings it up. Needs root or CAP_NET_ADMIN. Throws
   * UnsupportedPlatformError on an OS without a backend, NativeAddonMissingError when the addon is not built,
   * TypeError/RangeError for bad options, and a system error (`code`, `errno`, `syscall`) when the OS refuses.
   */
  static open(options: TunOpenOptions, runtime: NativeRuntime = defaultRuntime): TunDevice {
    requireSupportedPlatform(runtime.platform, 'a TUN device');
    const name = options.name ?? '';
    if (typeof name !== 'string') throw new TypeError('TUN device name must be a string');
    const problem = options.name === undefined ? undefined : linuxInterfaceNameProblem(name);
    if (problem) throw new RangeError(`invalid TUN device name ${JSON.stringify(name)}: ${problem}`);
    const mtu = integerOption('mtu', options.mtu, 68, 65535);
    const maxBatchPackets = integerOption(
      'maxBatchPackets',
      options.maxBatchPackets ?? DEFAULT_MAX_BATCH_PACKETS,
      1,
      4096,
    );
    const maxPendingBatches = integerOption(
      'maxPendingBatches',
      options.maxPendingBatches ?? DEFAULT_MAX_PENDING_BATCHES,
      1,
      1024,
    );
    const addon = runtime.loadAddon();
    return new TunDevice(addon, { name, mtu, maxBatchPackets, maxPendingBatches });
  }

  private constructor(addon: NativeAddon, options: Required<TunOpenOptions>) {
    try {
      this.#handle = new addon.TunHandle(options, (error, slab, lengths) => {
        try {
          this.#deliver(error, slab, lengths);
        } catch (thrown) {
          // Node 20 swallows (with a deprecation warning) what a native thread-safe callback throws; rethrown from
          // a tick it is a proper uncaught exception.
          process.nextTick(() => {
            throw thrown;
          });
        }
      });
    } catch (error) {
      throw withContext(`cannot open TUN device ${JSON.stringify(options.name || '(any)')}`, error);
    }
    this.name = this.#handle.name;
    this.ifindex = this.#handle.ifindex;
    this.mtu = options.mtu;
  }

  /** Sets (or with undefined removes) the packet handler; setting one starts reading unless paused. */
  onPackets(handler: PacketHandler | undefined): this {
    this.#packetHandler = handler;
    this.#sync();
    return this;
  }

  /** Sets the handler of a fatal read error. Without one, the error is thrown as an uncaught exception. */
  onError(handler: TunErrorHandler | undefined): this {
    this.#errorHandler = handler;
    return this;
  }

  /**
   * Writes packets (each one whole IPv4/IPv6 packet) synchronously, in order. Returns how many the kernel accepted;
   * the others are counted in stats() (writesDropped or writeErrors). Throws if the device is closed.
   */
  write(packets: readonly Uint8Array[]): number {
    return this.#handle.write(packets);
  }

  /** Writes one packet; whether the kernel accepted it (see write()). */
  writePacket(packet: Uint8Array): boolean {
    return this.#handle.writePacket(packet);
  }

  /**
   * Stops reading from the kernel, whose queue then fills and drops. Batches already read (at most
   * maxPendingBatches) are still delivered.
   */
  pause(): this {
    this.#paused = true;
    this.#sync();
    return this;
  }

  resume(): this {
    this.#paused = false;
    this.#sync();
    return this;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Lets the process exit even while reading runs. */
  unref(): this {
    this.#refed = false;
    this.#sync();
    return this;
  }

  /** Undoes unref(): reading keeps the process alive again. */
  ref(): this {
    this.#refed = true;
    this.#sync();
    return this;
  }

  /**
   * Stops the reader thread and closes the device; a non-persistent interface disappears. Idempotent. After it
   * returns no handler is called again (batches still queued are discarded and counted); stats() keeps working.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): TunStats {
    const { lastWriteError, packetsDiscarded, ...counters } = this.#handle.stats();
    const stats: TunStats = { ...counters, packetsDiscarded: packetsDiscarded + this.#discarded };
    if (lastWriteError) stats.lastWriteError = lastWriteError;
    return stats;
  }

  #sync(): void {
    if (this.#closed) return;
    const reading = this.#packetHandler !== undefined && !this.#paused && !this.#failed;
    this.#handle.setReading(reading);
    this.#handle.setRef(reading && this.#refed);
  }

  #deliver(error: NodeJS.ErrnoException | null, slab?: ArrayBuffer, lengths?: Uint32Array): void {
    if (error) {
      this.#failed = true;
      this.#sync();
      const wrapped = withContext(`TUN device ${this.name} stopped reading`, error);
      if (!this.#errorHandler) throw wrapped;
      this.#errorHandler(wrapped);
      return;
    }
    if (!slab || !lengths) return;
    const handler = this.#packetHandler;
    if (!handler) {
      this.#discarded += lengths.length;
      return;
    }
    const packets = new Array<Buffer>(lengths.length);
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      packets[i] = Buffer.from(slab, offset, length);
      offset += length;
    }
    handler(packets);
  }
}

function integerOption(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`TUN option ${key} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`TUN option ${key} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}
