import t from 'tap';
import { crc32c } from '../../src/core/crc32c.ts';

/** Bit-at-a-time reference: obviously correct, used to check the sliced implementation. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

t.test('standard check value', async (t) => {
  t.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  t.equal(crc32c(new Uint8Array(0)), 0);
});

t.test('RFC 3720 (iSCSI) appendix B.4 vectors', async (t) => {
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

t.test('agrees with the bitwise reference at every length around the 8-byte stride', async (t) => {
  const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let n = 0; n <= data.length; n++) {
    const slice = data.subarray(3, 3 + Math.min(n, data.length - 3)); // unaligned view too
    if (crc32c(slice) !== crc32cBitwise(slice)) t.fail(`length ${slice.length}`);
  }
  t.pass('all lengths agree');
});

t.test('continues over pieces', async (t) => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 17) & 0xff);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    t.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data), `cut at ${cut}`);
  }
});
