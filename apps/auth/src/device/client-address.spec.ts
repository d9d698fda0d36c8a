import { describe, expect, it } from 'vitest';
import { clientBucket } from './client-address.js';

describe('clientBucket', () => {
  it('counts an IPv4 client by its address, written either way', () => {
    expect(clientBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(clientBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts an IPv6 client by its /64, however the address is written', () => {
    const bucket = '2001:db8:1:2::/64';
    expect(clientBucket('2001:db8:1:2::1')).toBe(bucket);
    expect(clientBucket('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe(bucket);
    expect(clientBucket('2001:DB8:1:2:0:0:0:9')).toBe(bucket);
    expect(clientBucket('2001:db8:1:3::1')).not.toBe(bucket);
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('2001:db8::1.2.3.4')).toBe('2001:db8:0:0::/64');
    expect(clientBucket('1::2:3:4:5:1.2.3.4')).toBe('1:0:2:3::/64');
    expect(clientBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('has a bucket for a request without an address', () => {
    expect(clientBucket(undefined)).toBe('unknown');
  });
});
