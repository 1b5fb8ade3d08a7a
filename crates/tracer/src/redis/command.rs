//! What a Redis command is called and which of its arguments are keys.
//!
//! The span name is the command name; `db.query.text` (when switched on) is the command with its
//! keys, every other argument replaced by `?`. Which arguments are keys depends on the command,
//! so a table lists the common ones; for a command missing from the table no argument is
//! treated as a key, so nothing but the name and placeholders is ever recorded.

use std::borrow::Cow;
use std::fmt::Write as _;

use redis::{Arg, Cmd};

/// Where a command's keys are among its arguments (argument 0 is the command name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keys {
    /// No keys: every argument is a placeholder.
    None,
    /// Arguments are secrets (AUTH, HELLO): not even placeholders are written.
    Secret,
    /// Argument 1 is the key.
    First,
    /// Arguments 1 and 2 are keys.
    FirstTwo,
    /// Every argument is a key.
    All,
    /// Every argument but the last (BLPOP-style timeouts).
    AllButLast,
    /// Arguments 1, 3, 5, ... are keys (MSET key value key value).
    Pairs,
    /// Argument 2 is `numkeys`, then that many keys (EVAL script numkeys key...).
    Counted,
}

/// Common commands, sorted by name for binary search.
const TABLE: &[(&str, Keys)] = &[
    ("ACL", Keys::Secret),
    ("APPEND", Keys::First),
    ("AUTH", Keys::Secret),
    ("BLMOVE", Keys::FirstTwo),
    ("BLPOP", Keys::AllButLast),
    ("BRPOP", Keys::AllButLast),
    ("CLIENT", Keys::Secret),
    ("CONFIG", Keys::Secret),
    ("COPY", Keys::FirstTwo),
    ("DBSIZE", Keys::None),
    ("DECR", Keys::First),
    ("DECRBY", Keys::First),
    ("DEL", Keys::All),
    ("DISCARD", Keys::None),
    ("ECHO", Keys::None),
    ("EVAL", Keys::Counted),
    ("EVALSHA", Keys::Counted),
    ("EXEC", Keys::None),
    ("EXISTS", Keys::All),
    ("EXPIRE", Keys::First),
    ("EXPIREAT", Keys::First),
    ("FCALL", Keys::Counted),
    ("FLUSHALL", Keys::None),
    ("FLUSHDB", Keys::None),
    ("GEOADD", Keys::First),
    ("GEOSEARCH", Keys::First),
    ("GET", Keys::First),
    ("GETDEL", Keys::First),
    ("GETEX", Keys::First),
    ("GETRANGE", Keys::First),
    ("GETSET", Keys::First),
    ("HDEL", Keys::First),
    ("HELLO", Keys::Secret),
    ("HEXISTS", Keys::First),
    ("HGET", Keys::First),
    ("HGETALL", Keys::First),
    ("HINCRBY", Keys::First),
    ("HKEYS", Keys::First),
    ("HLEN", Keys::First),
    ("HMGET", Keys::First),
    ("HMSET", Keys::First),
    ("HSET", Keys::First),
    ("HSETNX", Keys::First),
    ("HVALS", Keys::First),
    ("INCR", Keys::First),
    ("INCRBY", Keys::First),
    ("INCRBYFLOAT", Keys::First),
    ("INFO", Keys::None),
    ("KEYS", Keys::None),
    ("LINDEX", Keys::First),
    ("LLEN", Keys::First),
    ("LMOVE", Keys::FirstTwo),
    ("LPOP", Keys::First),
    ("LPUSH", Keys::First),
    ("LRANGE", Keys::First),
    ("LREM", Keys::First),
    ("LSET", Keys::First),
    ("LTRIM", Keys::First),
    ("MGET", Keys::All),
    ("MIGRATE", Keys::Secret),
    ("MSET", Keys::Pairs),
    ("MSETNX", Keys::Pairs),
    ("MULTI", Keys::None),
    ("PERSIST", Keys::First),
    ("PEXPIRE", Keys::First),
    ("PFADD", Keys::First),
    ("PFCOUNT", Keys::All),
    ("PING", Keys::None),
    ("PSETEX", Keys::First),
    ("PTTL", Keys::First),
    ("PUBLISH", Keys::None),
    ("RENAME", Keys::FirstTwo),
    ("RENAMENX", Keys::FirstTwo),
    ("RPOP", Keys::First),
    ("RPOPLPUSH", Keys::FirstTwo),
    ("RPUSH", Keys::First),
    ("SADD", Keys::First),
    ("SCAN", Keys::None),
    ("SCARD", Keys::First),
    ("SCRIPT", Keys::None),
    ("SDIFF", Keys::All),
    ("SELECT", Keys::None),
    ("SET", Keys::First),
    ("SETEX", Keys::First),
    ("SETNX", Keys::First),
    ("SINTER", Keys::All),
    ("SISMEMBER", Keys::First),
    ("SMEMBERS", Keys::First),
    ("SMOVE", Keys::FirstTwo),
    ("SPOP", Keys::First),
    ("SREM", Keys::First),
    ("STRLEN", Keys::First),
    ("SUNION", Keys::All),
    ("TOUCH", Keys::All),
    ("TTL", Keys::First),
    ("TYPE", Keys::First),
    ("UNLINK", Keys::All),
    ("UNWATCH", Keys::None),
    ("WATCH", Keys::All),
    ("XADD", Keys::First),
    ("XLEN", Keys::First),
    ("XRANGE", Keys::First),
    ("ZADD", Keys::First),
    ("ZCARD", Keys::First),
    ("ZCOUNT", Keys::First),
    ("ZINCRBY", Keys::First),
    ("ZRANGE", Keys::First),
    ("ZRANGEBYSCORE", Keys::First),
    ("ZRANK", Keys::First),
    ("ZREM", Keys::First),
    ("ZREVRANGE", Keys::First),
    ("ZSCORE", Keys::First),
];

/// Longest command name kept; longer first arguments are not command names we can trust.
const MAX_NAME: usize = 32;
/// Arguments written into `db.query.text`, per command.
const MAX_ARGS: usize = 32;
/// Bytes of one key written into `db.query.text`.
const MAX_KEY: usize = 128;

/// A command's name (upper case) and where its keys are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Command {
    pub(crate) name: Cow<'static, str>,
    keys: Keys,
}

impl Command {
    /// Reads the name of `cmd`; an empty or unreadable name is `UNKNOWN`.
    pub(crate) fn of(cmd: &Cmd) -> Self {
        let first = match cmd.args_iter().next() {
            Some(Arg::Simple(bytes)) => bytes,
            _ => &[][..],
        };
        Self::parse(first)
    }

    fn parse(raw: &[u8]) -> Self {
        let unknown = Self {
            name: Cow::Borrowed("UNKNOWN"),
            keys: Keys::None,
        };
        if raw.is_empty() || raw.len() > MAX_NAME {
            return unknown;
        }
        let mut buf = [0u8; MAX_NAME];
        for (dst, &b) in buf.iter_mut().zip(raw) {
            if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b == b'|') {
                return unknown;
            }
            *dst = b.to_ascii_uppercase();
        }
        // Only ASCII bytes were copied, so this cannot fail.
        let upper = std::str::from_utf8(&buf[..raw.len()]).unwrap_or("UNKNOWN");
        match TABLE.binary_search_by(|(name, _)| (*name).cmp(upper)) {
            Ok(i) => Self {
                name: Cow::Borrowed(TABLE[i].0),
                keys: TABLE[i].1,
            },
            Err(_) => Self {
                name: Cow::Owned(upper.to_owned()),
                keys: Keys::None,
            },
        }
    }

    /// Whether argument `index` (1-based; 0 is the name) of a command with `count` arguments is
    /// a key. `numkeys` is argument 2 of `Counted` commands, when it parsed.
    fn is_key(&self, index: usize, count: usize, numkeys: Option<usize>) -> bool {
        match self.keys {
            Keys::None | Keys::Secret => false,
            Keys::First => index == 1,
            Keys::FirstTwo => index == 1 || index == 2,
            Keys::All => true,
            Keys::AllButLast => index + 1 < count,
            Keys::Pairs => index % 2 == 1,
            Keys::Counted => numkeys.is_some_and(|n| index >= 3 && index < 3 + n),
        }
    }

    /// Appends the command with its keys and `?` for every other argument to `out`.
    pub(crate) fn write_text(&self, cmd: &Cmd, out: &mut String) {
        out.push_str(&self.name);
        if self.keys == Keys::Secret {
            return;
        }
        let count = cmd.args_iter().len();
        let numkeys = if self.keys == Keys::Counted {
            match cmd.args_iter().nth(2) {
                Some(Arg::Simple(n)) => std::str::from_utf8(n).ok().and_then(|n| n.parse().ok()),
                _ => None,
            }
        } else {
            None
        };
        for (index, arg) in cmd.args_iter().enumerate().skip(1) {
            if index > MAX_ARGS {
                out.push_str(" ...");
                break;
            }
            out.push(' ');
            match arg {
                Arg::Simple(bytes) if self.is_key(index, count, numkeys) => {
                    let key = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_KEY)]);
                    out.push_str(&key);
                }
                Arg::Simple(_) if self.keys == Keys::Counted && index == 2 => {
                    // numkeys is a count, not a value.
                    let _ = write!(out, "{}", numkeys.unwrap_or(0));
                }
                _ => out.push('?'),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cmd: &Cmd) -> String {
        let mut out = String::new();
        Command::of(cmd).write_text(cmd, &mut out);
        out
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn names_are_upper_case_and_interned() {
        let cmd = redis::cmd("hset");
        let c = Command::of(&cmd);
        assert_eq!(c.name, "HSET");
        assert!(matches!(c.name, Cow::Borrowed(_)));
        assert_eq!(Command::of(&redis::cmd("xautoclaim")).name, "XAUTOCLAIM");
        assert_eq!(Command::of(&redis::cmd("not a name")).name, "UNKNOWN");
        assert_eq!(Command::of(&redis::Cmd::new()).name, "UNKNOWN");
    }

    #[test]
    fn text_keeps_keys_and_hides_values() {
        let mut set = redis::cmd("SET");
        set.arg("user:1").arg("secret-value").arg("EX").arg(10);
        assert_eq!(text(&set), "SET user:1 ? ? ?");
        let mut mset = redis::cmd("MSET");
        mset.arg("a").arg("va").arg("b").arg("vb");
        assert_eq!(text(&mset), "MSET a ? b ?");
        let mut del = redis::cmd("DEL");
        del.arg("a").arg("b");
        assert_eq!(text(&del), "DEL a b");
        let mut blpop = redis::cmd("BLPOP");
        blpop.arg("q1").arg("q2").arg(5);
        assert_eq!(text(&blpop), "BLPOP q1 q2 ?");
        let mut eval = redis::cmd("EVAL");
        eval.arg("return 'x'").arg(1).arg("k").arg("secret");
        assert_eq!(text(&eval), "EVAL ? 1 k ?");
    }

    #[test]
    fn secrets_and_unknown_commands_record_no_arguments() {
        let mut auth = redis::cmd("AUTH");
        auth.arg("user").arg("hunter2");
        assert_eq!(text(&auth), "AUTH");
        let mut hello = redis::cmd("HELLO");
        hello.arg(3).arg("AUTH").arg("user").arg("hunter2");
        assert_eq!(text(&hello), "HELLO");
        let mut custom = redis::cmd("MYMODULE.DO");
        custom.arg("maybe-a-value");
        assert_eq!(text(&custom), "MYMODULE.DO ?");
    }

    #[test]
    fn long_commands_are_cut() {
        let mut del = redis::cmd("DEL");
        for i in 0..40 {
            del.arg(i);
        }
        assert!(text(&del).ends_with(" 30 31 ..."), "{}", text(&del));
    }
}
