// The peer registry: --peers names map to factories here, and nowhere else.
import type { PeerFactory } from '../impl.js';
import { ortNode } from './ort-node.js';
import { ortWeb } from './ort-web.js';
import { tfjsWasm } from './tfjs-wasm.js';

export const PEERS: readonly PeerFactory[] = [ortNode, tfjsWasm, ortWeb];

/** Peers compared by default with each fastconv backend. */
export const DEFAULT_PEERS: Record<'native' | 'wasm' | 'js', string[]> = {
  native: ['ort', 'tfjs'],
  wasm: ['tfjs', 'ort-web'],
  js: [],
};

export function peerByName(name: string): PeerFactory {
  const p = PEERS.find((f) => f.name === name);
  if (!p) throw new RangeError(`--peers: unknown peer '${name}' (have ${PEERS.map((f) => f.name).join(', ')}, none)`);
  return p;
}
