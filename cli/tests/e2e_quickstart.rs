//! Plays the README's quick start as written: every `sched` line of its
//! first code block runs against a dev agent and succeeds.

mod e2e_support;

use e2e_support::{Agent, repo};

/// The commands of the first ```sh block under "## Quick start".
fn quick_start() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("a quick start section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a code block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_readme_quick_start_works_as_written() {
    let commands = quick_start();
    assert!(
        commands.iter().any(|c| c == "sched agent -dev &"),
        "{commands:?}"
    );
    let mut agent: Option<Agent> = None;
    for cmd in &commands {
        if cmd.starts_with("cargo build") {
            // Cargo built this binary for the test; PATH points at it below.
            continue;
        }
        if cmd == "sched agent -dev &" {
            // The same dev agent, on free ports so tests can run side by side.
            agent = Some(Agent::start());
            continue;
        }
        let args: Vec<&str> = cmd
            .strip_prefix("sched ")
            .unwrap_or_else(|| panic!("not a sched command: {cmd}"))
            .split_whitespace()
            .collect();
        let a = agent.as_ref().expect("the agent starts first");
        let out = a.expect(0, &args);
        if cmd.starts_with("sched run ") {
            assert!(out.contains("finished with status \"complete\""), "{out}");
        }
        if cmd == "sched job status hello" {
            assert!(out.contains("ID            = hello"), "{out}");
        }
    }
    assert!(agent.is_some());
}
