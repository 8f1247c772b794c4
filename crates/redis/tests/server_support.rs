//! The private redis-server of the tests (support/server.rs) is always our own child: after
//! a start and after a restart, the Redis answering on its port reports our child's process
//! id, and a restart that finds its port taken by another Redis fails the test instead of
//! letting it talk to someone else's server.

#[path = "support/server.rs"]
mod server;

use std::panic::{AssertUnwindSafe, catch_unwind};

use server::RedisServer;

/// The `process_id` and the value of `key` of the Redis answering at `url`.
fn ask(url: &str, key: &str) -> (u32, Option<String>) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server names the process");
    let value: Option<String> = redis::cmd("GET").arg(key).query(&mut conn).unwrap();
    (pid, value)
}

fn set(url: &str, key: &str, value: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut conn)
        .unwrap();
}

#[test]
fn the_server_is_our_child_after_a_start_and_a_restart_with_its_data() {
    let mut server = RedisServer::start();
    let first = server.pid().expect("running");
    set(&server.url(), "written-before", "ours");
    assert_eq!(
        ask(&server.url(), "written-before"),
        (first, Some("ours".to_owned()))
    );

    server.restart();
    let second = server.pid().expect("running again");
    assert_ne!(first, second, "a new process");
    assert_eq!(
        ask(&server.url(), "written-before"),
        (second, Some("ours".to_owned())),
        "the restarted server is ours, with the data written before"
    );
}

#[test]
fn a_restart_on_a_port_another_redis_took_fails_the_test() {
    let mut ours = RedisServer::start();
    set(&ours.url(), "whose", "ours");
    ours.stop();

    // Another test's Redis takes the freed port while ours is down.
    let other = RedisServer::try_start_on(ours.port()).expect("the freed port is free");
    set(&other.url(), "whose", "someone else's");

    let restarted = catch_unwind(AssertUnwindSafe(|| ours.restart()));
    let message = match restarted {
        Ok(()) => panic!("a restart went ahead on a port another Redis holds"),
        Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("no longer ours")
            && message.contains(&other.pid().expect("running").to_string()),
        "{message}"
    );
    assert!(ours.pid().is_none(), "nothing of ours runs on the port");
    // The other Redis is left alone.
    assert_eq!(
        ask(&other.url(), "whose"),
        (other.pid().unwrap(), Some("someone else's".to_owned()))
    );
}
