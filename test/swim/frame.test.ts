import t from 'tap';
import { decodeRequest, encodeFrame, encodeRequest, FrameReader } from '../../src/swim/frame.ts';
import { formatAddress, parseAddress } from '../../src/swim/net-address.ts';

t.test('frame round trip, whole and byte by byte', async (t) => {
  const body = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  const frame = encodeFrame(body, 100);
  t.same([...frame.subarray(0, 4)], [0, 0, 0, 7]);
  t.same([...(new FrameReader(100).push(frame) ?? [])], [...body]);
  const r = new FrameReader(100);
  let got: Uint8Array | null = null;
  for (let i = 0; i < frame.length; i++) {
    t.equal(got, null);
    got = r.push(frame.subarray(i, i + 1));
  }
  t.same([...(got ?? [])], [...body]);
  t.ok(r.done);
  t.equal(r.push(new Uint8Array(0)), null, 'an empty chunk after the end is fine');
});

t.test('empty frame', async (t) => {
  const r = new FrameReader(10);
  const got = r.push(encodeFrame(new Uint8Array(0), 10));
  t.equal(got?.length, 0);
});

t.test('oversized frames are refused before buffering', async (t) => {
  t.throws(() => encodeFrame(new Uint8Array(11), 10), { name: 'SwimError', code: 'TOO_LARGE' });
  const r = new FrameReader(10);
  t.equal(r.push(new Uint8Array([0, 0])), null);
  t.throws(() => r.push(new Uint8Array([0, 11])), { name: 'SwimError', code: 'TOO_LARGE' });
  // An HTTP request reads as a ~1.2 GB length.
  t.throws(() => new FrameReader(1 << 20).push(new TextEncoder().encode('GET / HTTP/1.1\r\n')), {
    name: 'SwimError',
    code: 'TOO_LARGE',
  });
});

t.test('bytes after the frame are malformed', async (t) => {
  const frame = encodeFrame(new Uint8Array([9]), 10);
  const extra = new Uint8Array(frame.length + 1);
  extra.set(frame);
  t.throws(() => new FrameReader(10).push(extra), { name: 'SwimError', code: 'MALFORMED' });
  const r = new FrameReader(10);
  r.push(frame);
  t.throws(() => r.push(new Uint8Array([1])), { name: 'SwimError', code: 'MALFORMED' });
});

t.test('addresses', async (t) => {
  t.same(parseAddress('127.0.0.11:7946'), { host: '127.0.0.11', port: 7946 });
  t.same(parseAddress('[::1]:80'), { host: '::1', port: 80 });
  t.same(parseAddress('node.example:1'), { host: 'node.example', port: 1 });
  t.equal(formatAddress('::1', 80), '[::1]:80');
  t.equal(formatAddress('10.0.0.1', 80), '10.0.0.1:80');
  for (const bad of ['', '127.0.0.1', '127.0.0.1:', ':80', '127.0.0.1:0', '127.0.0.1:65536', '::1:80', '[::1]80', '[x]:80', 'a:1x', 'a:123456']) {
    t.throws(() => parseAddress(bad), { name: 'SwimError', code: 'BAD_ARGUMENT' }, bad);
  }
});

t.test('stream requests carry the sender address', async (t) => {
  const req = encodeRequest('127.0.0.11:7946', new Uint8Array([7, 8]));
  t.equal(req[0], 15);
  const { from, body } = decodeRequest(req);
  t.equal(from, '127.0.0.11:7946');
  t.same([...body], [7, 8]);
  t.same([...decodeRequest(encodeRequest('[::1]:1', new Uint8Array())).body], []);
  t.throws(() => encodeRequest('', new Uint8Array()), { code: 'BAD_ARGUMENT' });
  t.throws(() => encodeRequest('x'.repeat(256), new Uint8Array()), { code: 'BAD_ARGUMENT' });
  for (const bad of [[], [0], [5, 65, 66], [2, 65, 10], [1, 0x80]]) {
    t.throws(() => decodeRequest(new Uint8Array(bad)), { name: 'SwimError', code: 'MALFORMED' }, JSON.stringify(bad));
  }
});
