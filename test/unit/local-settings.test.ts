import { describe, expect, it } from 'vitest';
import { loadLocalSettings } from '../../local/settings.ts';

describe('DOOZER_LOCAL_USERS', () => {
  it('adds users beside the development one, a password keeping its colons', () => {
    expect(loadLocalSettings({ DOOZER_LOCAL_USERS: 'alice:pw,bob:a:b' }).localUsers).toEqual([
      { username: 'alice', password: 'pw' },
      { username: 'bob', password: 'a:b' },
    ]);
    expect(loadLocalSettings({}).localUsers).toEqual([]);
  });

  it.each([
    ['doozer:other', 'names the user "doozer" twice (the development user'],
    ['alice:pw,alice:pw2', 'names the user "alice" twice'],
    ['Alice Smith:pw', 'a user name is 1 to 64 letters'],
    ['bob', 'each user must be name:password'],
    ['bob:', 'each user must be name:password'],
  ])('refuses %j, saying why', (value, message) => {
    expect(() => loadLocalSettings({ DOOZER_LOCAL_USERS: value })).toThrow(message);
  });
});
