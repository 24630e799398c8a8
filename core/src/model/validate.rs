//! Validation: [`Job::validate`] checks a canonicalised job against Nomad's
//! rules (those of `structs.Job.Validate` and the blocks it holds) and reports
//! every problem at once, each with the path of the block it is in.
//!
//! Validation does not fill defaults (see [`Job::canonicalize`]); unset fields
//! are only reported when Nomad requires them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use regex::Regex;

use super::canonicalize::{JOB_TYPE_BATCH, JOB_TYPE_SERVICE, JOB_TYPE_SYSBATCH, JOB_TYPE_SYSTEM};
use super::{
    Affinity, Artifact, Constraint, Duration, Job, LogConfig, MigrateStrategy, NetworkResource,
    PeriodicConfig, ReschedulePolicy, Resources, RestartPolicy, ScalingPolicy, Service,
    ServiceCheck, Spread, Task, TaskGroup, Template, UpdateStrategy, Vault,
};

/// One step of the path from the job to the block an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// The job itself, for job-level fields.
    Job,
    /// A task group, by name.
    Group(String),
    /// A task, by name.
    Task(String),
    /// A service, by name.
    Service(String),
    /// A service check, by name (or position when unnamed).
    Check(String),
    /// A constraint, by 1-based position in its list.
    Constraint(usize),
    /// An affinity, by 1-based position in its list.
    Affinity(usize),
    /// A spread, by 1-based position in its list.
    Spread(usize),
    /// A network, by 1-based position in its list.
    Network(usize),
    /// A template, by 1-based position in its list.
    Template(usize),
    /// An artifact, by 1-based position in its list.
    Artifact(usize),
    /// A volume request, by label.
    Volume(String),
    /// A device request, by name.
    Device(String),
    /// A single nested block such as `update` or `resources`.
    Block(&'static str),
}

impl fmt::Display for PathSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSegment::Job => f.write_str("job"),
            PathSegment::Group(name) => write!(f, "group {name:?}"),
            PathSegment::Task(name) => write!(f, "task {name:?}"),
            PathSegment::Service(name) => write!(f, "service {name:?}"),
            PathSegment::Check(name) => write!(f, "check {name:?}"),
            PathSegment::Constraint(i) => write!(f, "constraint #{i}"),
            PathSegment::Affinity(i) => write!(f, "affinity #{i}"),
            PathSegment::Spread(i) => write!(f, "spread #{i}"),
            PathSegment::Network(i) => write!(f, "network #{i}"),
            PathSegment::Template(i) => write!(f, "template #{i}"),
            PathSegment::Artifact(i) => write!(f, "artifact #{i}"),
            PathSegment::Volume(name) => write!(f, "volume {name:?}"),
            PathSegment::Device(name) => write!(f, "device {name:?}"),
            PathSegment::Block(name) => f.write_str(name),
        }
    }
}

/// One broken rule: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// From the outermost block to the one at fault; job-level errors have
    /// the single segment [`PathSegment::Job`].
    pub path: Vec<PathSegment>,
    /// What is wrong, in Nomad's words where it has them.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{seg}")?;
        }
        if !self.path.is_empty() {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every rule a job breaks, in the order the job's blocks appear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_list(.0))]
pub struct ValidationErrors(pub Vec<ValidationError>);

fn render_list(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ValidationErrors {
    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }

    /// How many rules were broken.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never true for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Collects errors under a path.
struct Errs<'a> {
    path: Vec<PathSegment>,
    out: &'a mut Vec<ValidationError>,
}

impl Errs<'_> {
    fn add(&mut self, message: impl Into<String>) {
        self.out.push(ValidationError {
            path: self.path.clone(),
            message: message.into(),
        });
    }

    fn at(&mut self, seg: PathSegment) -> Errs<'_> {
        let mut path = self.path.clone();
        path.push(seg);
        Errs {
            path,
            out: self.out,
        }
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

fn neg(d: Option<Duration>) -> bool {
    d.is_some_and(Duration::is_negative)
}

const CONSTRAINT_OPERANDS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    ">",
    ">=",
    "<",
    "<=",
    "regexp",
    "version",
    "semver",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "distinct_hosts",
    "distinct_property",
    "is_set",
    "is_not_set",
];

const PORT_LABEL_PATTERN: &str = "^[a-zA-Z0-9_]+$";

impl Job {
    /// Checks the job against Nomad's rules and returns every violation.
    /// Expects a canonicalised job: unset fields that canonicalisation would
    /// fill are reported as missing.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut out = Vec::new();
        validate_job(
            self,
            &mut Errs {
                path: vec![PathSegment::Job],
                out: &mut out,
            },
        );
        if out.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(out))
        }
    }

    /// Whether the job launches children on a cron schedule.
    pub fn is_periodic(&self) -> bool {
        self.periodic
            .as_ref()
            .is_some_and(|p| p.enabled != Some(false))
    }

    /// Whether the job is a template for dispatched children.
    pub fn is_parameterized(&self) -> bool {
        self.parameterized_job.is_some() && self.dispatched != Some(true)
    }
}

fn validate_job(job: &Job, e: &mut Errs<'_>) {
    match job.id.as_deref() {
        None | Some("") => e.add("missing job ID"),
        Some(id) => {
            if id.contains(' ') {
                e.add("job ID contains a space");
            }
            if id.contains('\0') {
                e.add("job ID contains a null character");
            }
        }
    }
    match job.name.as_deref() {
        None | Some("") => e.add("missing job name"),
        Some(name) if name.contains('\0') => e.add("job name contains a null character"),
        Some(_) => {}
    }
    if s(&job.namespace).is_empty() {
        e.add("missing job namespace");
    }
    let job_type = s(&job.r#type);
    match job_type {
        "" => e.add("missing job type"),
        JOB_TYPE_SERVICE | JOB_TYPE_BATCH | JOB_TYPE_SYSTEM | JOB_TYPE_SYSBATCH => {}
        other => e.add(format!(
            "invalid job type {other:?}; must be one of service, batch, system, sysbatch"
        )),
    }
    match job.priority {
        None => e.add("missing job priority"),
        Some(p) if !(1..=100).contains(&p) => {
            e.add(format!("job priority must be between 1 and 100; got {p}"));
        }
        Some(_) => {}
    }
    if s(&job.region).is_empty() {
        e.add("missing job region");
    }
    match &job.datacenters {
        Some(dcs) if !dcs.is_empty() => {
            if dcs.iter().any(String::is_empty) {
                e.add("job datacenter must be a non-empty string");
            }
        }
        _ if job.multiregion.is_some() => {}
        _ => e.add("missing job datacenters"),
    }
    validate_placement(&job.constraints, &job.affinities, &job.spreads, e);

    if let Some(update) = &job.update {
        validate_update(
            update,
            None,
            job_type,
            &mut e.at(PathSegment::Block("update")),
        );
    }
    if let Some(periodic) = &job.periodic {
        validate_periodic(periodic, &mut e.at(PathSegment::Block("periodic")));
    }
    let batch_like = matches!(job_type, JOB_TYPE_BATCH | JOB_TYPE_SYSBATCH);
    if job.is_periodic() {
        if !batch_like {
            e.add("periodic can only be used with batch or sysbatch jobs");
        }
        if job.is_parameterized() {
            e.add("periodic can not be used with a parameterized job");
        }
    }
    if let Some(param) = &job.parameterized_job {
        if !batch_like {
            e.add("parameterized can only be used with batch or sysbatch jobs");
        }
        if let Some(payload) = param.payload.as_deref()
            && !matches!(payload, "optional" | "required" | "forbidden")
        {
            e.at(PathSegment::Block("parameterized")).add(format!(
                "unknown payload requirement {payload:?}; must be optional, required or forbidden"
            ));
        }
    }

    // Nomad requires groups even of periodic and parameterized jobs: their
    // children are copies of the job and need something to run.
    let groups = job.task_groups.as_deref().unwrap_or_default();
    if groups.is_empty() {
        e.add("missing job task groups");
    }
    let mut seen = BTreeSet::new();
    for (i, group) in groups.iter().enumerate() {
        let name = s(&group.name);
        if name.is_empty() {
            e.add(format!("task group #{} is missing a name", i + 1));
        } else if !seen.insert(name) {
            e.add(format!("task group {name:?} is defined more than once"));
        }
        validate_group(
            job,
            group,
            &mut e_root(e).at(PathSegment::Group(name.to_owned())),
        );
    }
}

/// An error collector at the root (groups are not nested under `job`).
fn e_root<'a>(e: &'a mut Errs<'_>) -> Errs<'a> {
    Errs {
        path: Vec::new(),
        out: e.out,
    }
}

fn validate_placement(
    constraints: &Option<Vec<Constraint>>,
    affinities: &Option<Vec<Affinity>>,
    spreads: &Option<Vec<Spread>>,
    e: &mut Errs<'_>,
) {
    for (i, c) in constraints.iter().flatten().enumerate() {
        validate_constraint(c, &mut e.at(PathSegment::Constraint(i + 1)));
    }
    for (i, a) in affinities.iter().flatten().enumerate() {
        validate_affinity(a, &mut e.at(PathSegment::Affinity(i + 1)));
    }
    for (i, sp) in spreads.iter().flatten().enumerate() {
        validate_spread(sp, &mut e.at(PathSegment::Spread(i + 1)));
    }
}

fn validate_constraint(c: &Constraint, e: &mut Errs<'_>) {
    let operand = s(&c.operand);
    let rtarget = s(&c.r_target);
    let mut require_ltarget = true;
    match operand {
        "distinct_hosts" => require_ltarget = false,
        "set_contains" | "set_contains_all" | "set_contains_any" => {
            if rtarget.is_empty() {
                e.add("set contains constraint requires an RTarget");
            }
        }
        "regexp" => {
            if let Err(err) = Regex::new(rtarget) {
                e.add(format!("regular expression failed to compile: {err}"));
            }
        }
        "version" | "semver" => {
            if rtarget.is_empty() {
                e.add(format!("operator {operand:?} requires an RTarget"));
            }
        }
        "distinct_property" => {
            if !rtarget.is_empty() {
                match rtarget.parse::<u64>() {
                    Ok(0) => e.add("distinct_property must have an allowed count of 1 or greater"),
                    Ok(_) => {}
                    Err(_) => e.add(format!("failed to convert RTarget {rtarget:?} to uint64")),
                }
            }
        }
        "is_set" | "is_not_set" => {
            if !rtarget.is_empty() {
                e.add(format!("operator {operand:?} does not support an RTarget"));
            }
        }
        "=" | "==" | "is" | "!=" | "not" | "<" | "<=" | ">" | ">=" => {
            if rtarget.is_empty() {
                e.add(format!("operator {operand:?} requires an RTarget"));
            }
        }
        _ => {
            e.add(format!("unknown constraint operator {operand:?}"));
            return;
        }
    }
    if require_ltarget && s(&c.l_target).is_empty() {
        e.add("no LTarget provided but is required by constraint");
    }
}

fn validate_affinity(a: &Affinity, e: &mut Errs<'_>) {
    let operand = s(&a.operand);
    if matches!(operand, "distinct_hosts" | "distinct_property")
        || !CONSTRAINT_OPERANDS.contains(&operand)
    {
        e.add(format!("unknown affinity operator {operand:?}"));
    }
    if operand == "regexp"
        && let Err(err) = Regex::new(s(&a.r_target))
    {
        e.add(format!("regular expression failed to compile: {err}"));
    }
    if s(&a.l_target).is_empty() {
        e.add("missing affinity attribute (LTarget)");
    }
    match a.weight {
        Some(0) => e.add("affinity weight cannot be zero"),
        Some(w) if !(-100..=100).contains(&w) => {
            e.add(format!(
                "affinity weight must be within the range [-100,100]; got {w}"
            ));
        }
        _ => {}
    }
}

fn validate_spread(sp: &Spread, e: &mut Errs<'_>) {
    if s(&sp.attribute).is_empty() {
        e.add("missing spread attribute");
    }
    if let Some(w) = sp.weight
        && !(0..=100).contains(&w)
    {
        e.add(format!(
            "spread weight must be within the range [0,100]; got {w}"
        ));
    }
    let mut sum: u32 = 0;
    let mut seen = BTreeSet::new();
    for target in sp.spread_target.iter().flatten() {
        let value = s(&target.value);
        if !seen.insert(value) {
            e.add(format!("spread target value {value:?} already defined"));
        }
        sum += u32::from(target.percent.unwrap_or_default());
    }
    if sum > 100 {
        e.add(format!(
            "sum of spread target percentages must not be greater than 100%; got {sum}%"
        ));
    }
}

fn validate_periodic(p: &PeriodicConfig, e: &mut Errs<'_>) {
    if p.enabled == Some(false) {
        return;
    }
    let spec_type = s(&p.spec_type);
    if spec_type != "cron" {
        e.add(format!("unknown periodic specification type {spec_type:?}"));
    }
    let mut specs: Vec<&str> = p.specs.iter().flatten().map(String::as_str).collect();
    if let Some(spec) = p.spec.as_deref()
        && !spec.is_empty()
    {
        specs.push(spec);
    }
    if specs.is_empty() {
        e.add("must specify a cron spec");
    }
    for spec in specs {
        if let Some(problem) = cron_problem(spec) {
            e.add(format!("invalid cron spec {spec:?}: {problem}"));
        }
    }
}

/// A light syntax check of a cron expression: 5 to 7 fields of cron
/// characters, or one of the `@` descriptors.
fn cron_problem(spec: &str) -> Option<&'static str> {
    let spec = spec.trim();
    if let Some(desc) = spec.strip_prefix('@') {
        return match desc {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            _ if desc.starts_with("every ") => None,
            _ => Some("unknown descriptor"),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if !(5..=7).contains(&fields.len()) {
        return Some("expected 5 to 7 fields");
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?' | '#');
    if fields.iter().any(|f| !f.chars().all(ok)) {
        return Some("unexpected character");
    }
    None
}

fn validate_update(u: &UpdateStrategy, count: Option<i64>, job_type: &str, e: &mut Errs<'_>) {
    if let Some(hc) = u.health_check.as_deref()
        && !matches!(hc, "checks" | "task_states" | "manual")
    {
        e.add(format!("invalid health check given: {hc:?}"));
    }
    if u.max_parallel.is_some_and(|m| m < 0) {
        e.add("max parallel can not be less than zero");
    }
    if u.canary.is_some_and(|c| c < 0) {
        e.add("canary count can not be less than zero");
    }
    if let (Some(canary), Some(count)) = (u.canary, count)
        && job_type == JOB_TYPE_SERVICE
        && canary > count
    {
        e.add(format!(
            "canary count ({canary}) must be less than or equal to the group count ({count})"
        ));
    }
    if job_type == JOB_TYPE_SYSTEM && u.canary.is_some_and(|c| c > 0) {
        e.add("system jobs may not have canaries");
    }
    for (what, d) in [
        ("stagger", u.stagger),
        ("minimum healthy time", u.min_healthy_time),
        ("healthy deadline", u.healthy_deadline),
        ("progress deadline", u.progress_deadline),
    ] {
        if neg(d) {
            e.add(format!("{what} must be greater than or equal to zero"));
        }
    }
    if let (Some(min), Some(deadline)) = (u.min_healthy_time, u.healthy_deadline)
        && min >= deadline
    {
        e.add(format!(
            "minimum healthy time ({min}) must be less than healthy deadline ({deadline})"
        ));
    }
    if let (Some(deadline), Some(progress)) = (u.healthy_deadline, u.progress_deadline)
        && progress != Duration::ZERO
        && deadline >= progress
    {
        e.add(format!(
            "healthy deadline ({deadline}) must be less than progress deadline ({progress})"
        ));
    }
    if u.stagger == Some(Duration::ZERO) {
        e.add("stagger must be greater than zero");
    }
}

fn validate_restart(r: &RestartPolicy, e: &mut Errs<'_>) {
    let mode = s(&r.mode);
    if !matches!(mode, "delay" | "fail") {
        e.add(format!(
            "unsupported restart mode {mode:?}; must be \"delay\" or \"fail\""
        ));
    }
    let attempts = r.attempts.unwrap_or_default();
    if attempts < 0 {
        e.add("restart attempts must be greater than or equal to zero");
    }
    if neg(r.delay) || neg(r.interval) {
        e.add("restart delay and interval must be greater than or equal to zero");
    }
    if let (Some(delay), Some(interval)) = (r.delay, r.interval)
        && attempts > 0
        && delay.as_nanos().saturating_mul(attempts) > interval.as_nanos()
    {
        e.add(format!(
            "can't restart {attempts} times in an interval of {interval} with a delay of {delay}"
        ));
    }
}

fn validate_reschedule(r: &ReschedulePolicy, e: &mut Errs<'_>) {
    if r.attempts.is_some_and(|a| a < 0) {
        e.add("reschedule attempts must be greater than or equal to zero");
    }
    if neg(r.delay) || neg(r.interval) || neg(r.max_delay) {
        e.add("reschedule durations must be greater than or equal to zero");
    }
    if let Some(f) = r.delay_function.as_deref()
        && !matches!(f, "constant" | "exponential" | "fibonacci")
    {
        e.add(format!(
            "invalid delay function {f:?}; must be one of constant, exponential, fibonacci"
        ));
    }
    if let (Some(f), Some(delay), Some(max)) = (r.delay_function.as_deref(), r.delay, r.max_delay)
        && f != "constant"
        && max != Duration::ZERO
        && max < delay
    {
        e.add(format!(
            "max delay ({max}) must be greater than or equal to delay ({delay})"
        ));
    }
}

fn validate_migrate(m: &MigrateStrategy, e: &mut Errs<'_>) {
    if let Some(hc) = m.health_check.as_deref()
        && !matches!(hc, "checks" | "task_states")
    {
        e.add(format!("invalid health check given: {hc:?}"));
    }
    if m.max_parallel.is_some_and(|p| p < 0) {
        e.add("max parallel can not be less than zero");
    }
    if let (Some(min), Some(deadline)) = (m.min_healthy_time, m.healthy_deadline)
        && min >= deadline
    {
        e.add(format!(
            "minimum healthy time ({min}) must be less than healthy deadline ({deadline})"
        ));
    }
}

fn validate_scaling(p: &ScalingPolicy, count: Option<i64>, e: &mut Errs<'_>) {
    match p.max {
        None => e.add("missing maximum in scaling policy"),
        Some(max) if max < 0 => e.add("maximum count in scaling policy must be non-negative"),
        Some(_) => {}
    }
    if p.min.is_some_and(|m| m < 0) {
        e.add("minimum count in scaling policy must be non-negative");
    }
    if let (Some(min), Some(max)) = (p.min, p.max)
        && min > max
    {
        e.add(format!(
            "maximum count ({max}) must not be less than minimum count ({min})"
        ));
    }
    if let Some(count) = count {
        if p.max.is_some_and(|max| count > max) {
            e.add("task group count must not be greater than maximum count in scaling policy");
        }
        if p.min.is_some_and(|min| count < min) {
            e.add("task group count must not be less than minimum count in scaling policy");
        }
    }
}

/// Checks port labels, values and collisions over every network of a group
/// (group level and task level, each with its path), returning the labels
/// defined.
fn validate_networks(
    nets: &[(&NetworkResource, Vec<PathSegment>)],
    out: &mut Vec<ValidationError>,
) -> BTreeSet<String> {
    let label_re = Regex::new(PORT_LABEL_PATTERN).ok();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (net, path) in nets {
        let mut ne = Errs {
            path: path.clone(),
            out: &mut *out,
        };
        let mut static_ports: BTreeMap<(String, i64), String> = BTreeMap::new();
        let reserved = net.reserved_ports.iter().flatten().map(|p| (p, true));
        let dynamic = net.dynamic_ports.iter().flatten().map(|p| (p, false));
        for (port, is_static) in reserved.chain(dynamic) {
            let label = s(&port.label);
            if label_re.as_ref().is_some_and(|re| !re.is_match(label)) {
                ne.add(format!(
                    "port label {label:?} does not conform to naming requirements {PORT_LABEL_PATTERN}"
                ));
            }
            if let Some(previous) = labels.insert(label.to_lowercase(), label.to_owned()) {
                ne.add(format!(
                    "found a port label collision: {previous:?} and {label:?}"
                ));
            }
            let value = port.value.unwrap_or_default();
            if !(0..=65535).contains(&value) {
                ne.add(format!(
                    "port {label:?} value {value} is out of range (0-65535)"
                ));
            }
            if let Some(to) = port.to
                && !(-1..=65535).contains(&to)
            {
                ne.add(format!(
                    "port {label:?} mapped port {to} is out of range (-1-65535)"
                ));
            }
            if is_static && value > 0 {
                let host_net = match s(&port.host_network) {
                    "" => "default".to_owned(),
                    named => named.to_owned(),
                };
                if let Some(other) = static_ports.insert((host_net, value), label.to_owned()) {
                    ne.add(format!("static port {value} already reserved by {other:?}"));
                }
            }
        }
        if net.mbits.is_some_and(|m| m < 0) {
            ne.add("mbits must be non-negative");
        }
    }
    labels.into_values().collect()
}

fn validate_group(job: &Job, g: &TaskGroup, e: &mut Errs<'_>) {
    let job_type = s(&job.r#type);
    if g.count.is_some_and(|c| c < 0) {
        e.add("task group count can't be negative");
    }
    validate_placement(&g.constraints, &g.affinities, &g.spreads, e);
    if let Some(r) = &g.restart_policy {
        validate_restart(r, &mut e.at(PathSegment::Block("restart")));
    }
    if let Some(r) = &g.reschedule_policy {
        if matches!(job_type, JOB_TYPE_SYSTEM | JOB_TYPE_SYSBATCH) {
            e.add(format!("{job_type} jobs may not have a reschedule policy"));
        }
        validate_reschedule(r, &mut e.at(PathSegment::Block("reschedule")));
    }
    if let Some(u) = &g.update {
        if matches!(job_type, JOB_TYPE_BATCH | JOB_TYPE_SYSBATCH) {
            e.add(format!("{job_type} jobs may not have an update block"));
        }
        validate_update(
            u,
            g.count,
            job_type,
            &mut e.at(PathSegment::Block("update")),
        );
    }
    if let Some(m) = &g.migrate {
        validate_migrate(m, &mut e.at(PathSegment::Block("migrate")));
    }
    if let Some(p) = &g.scaling {
        validate_scaling(p, g.count, &mut e.at(PathSegment::Block("scaling")));
    }
    if let Some(d) = &g.disconnect {
        let mut de = e.at(PathSegment::Block("disconnect"));
        if d.lost_after.is_some() && g.max_client_disconnect.is_some() {
            de.add("using both lost_after and max_client_disconnect is not allowed");
        }
        if d.stop_on_client_after.is_some() && g.stop_after_client_disconnect.is_some() {
            de.add(
                "using both stop_on_client_after and stop_after_client_disconnect is not allowed",
            );
        }
        if neg(d.lost_after) || neg(d.stop_on_client_after) {
            de.add("disconnect durations must be greater than or equal to zero");
        }
        if let Some(r) = d.reconcile.as_deref()
            && !matches!(
                r,
                "best_score" | "keep_original" | "keep_replacement" | "longest_running"
            )
        {
            de.add(format!(
                "invalid reconcile option {r:?}; must be one of best_score, keep_original, keep_replacement, longest_running"
            ));
        }
    }
    if g.networks.as_ref().is_some_and(|n| n.len() > 1) {
        e.add("only one network block is allowed per group");
    }
    let disk_mb = g.ephemeral_disk.as_ref().and_then(|d| d.size_mb);
    if disk_mb.is_some_and(|d| d < 0) {
        e.at(PathSegment::Block("ephemeral_disk"))
            .add("size must be non-negative");
    }
    for (label, vol) in g.volumes.iter().flatten() {
        let mut ve = e.at(PathSegment::Volume(label.clone()));
        match vol.r#type.as_deref() {
            Some("host" | "csi") => {}
            other => ve.add(format!(
                "volume has unrecognized type {:?}; must be host or csi",
                other.unwrap_or_default()
            )),
        }
        if s(&vol.source).is_empty() {
            ve.add("volume has an empty source");
        }
    }

    // Ports over every network in the group, for collisions and services.
    let mut nets = Vec::new();
    for (i, net) in g.networks.iter().flatten().enumerate() {
        let mut path = e.path.clone();
        path.push(PathSegment::Network(i + 1));
        nets.push((net, path));
    }
    for task in g.tasks.iter().flatten() {
        let task_nets = task.resources.as_ref().and_then(|r| r.networks.as_ref());
        for (i, net) in task_nets.into_iter().flatten().enumerate() {
            let mut path = e.path.clone();
            path.extend([
                PathSegment::Task(s(&task.name).to_owned()),
                PathSegment::Block("resources"),
                PathSegment::Network(i + 1),
            ]);
            nets.push((net, path));
        }
    }
    let labels = validate_networks(&nets, e.out);

    for svc in g.services.iter().flatten() {
        validate_service(
            svc,
            &labels,
            &mut e.at(PathSegment::Service(s(&svc.name).to_owned())),
        );
    }

    let tasks = g.tasks.as_deref().unwrap_or_default();
    if tasks.is_empty() {
        e.add("missing tasks for task group");
    }
    let mut seen = BTreeSet::new();
    let mut leaders = 0;
    for (i, task) in tasks.iter().enumerate() {
        let name = s(&task.name);
        if name.is_empty() {
            e.add(format!("task #{} is missing a name", i + 1));
        } else if !seen.insert(name) {
            e.add(format!("task {name:?} is defined more than once"));
        }
        if task.leader == Some(true) {
            leaders += 1;
        }
        validate_task(
            job,
            g,
            task,
            &labels,
            &mut e.at(PathSegment::Task(name.to_owned())),
        );
    }
    if leaders > 1 {
        e.add("only one task may be marked as leader");
    }
}

fn validate_task(
    job: &Job,
    g: &TaskGroup,
    t: &Task,
    port_labels: &BTreeSet<String>,
    e: &mut Errs<'_>,
) {
    if s(&t.driver).is_empty() {
        e.add("missing driver");
    }
    if let Some(lc) = &t.lifecycle {
        let hook = s(&lc.hook);
        if !matches!(hook, "prestart" | "poststart" | "poststop") {
            e.at(PathSegment::Block("lifecycle")).add(format!(
                "invalid hook {hook:?}; must be prestart, poststart or poststop"
            ));
        }
    }
    if t.kill_timeout.is_some_and(Duration::is_negative) {
        e.add("kill_timeout must be greater than or equal to zero");
    }
    if t.shutdown_delay.is_some_and(Duration::is_negative) {
        e.add("shutdown_delay must be greater than or equal to zero");
    }
    match &t.resources {
        Some(r) => validate_resources(r, &mut e.at(PathSegment::Block("resources"))),
        None => e.add("missing task resources"),
    }
    if let Some(r) = &t.restart_policy {
        validate_restart(r, &mut e.at(PathSegment::Block("restart")));
    }
    if let Some(logs) = &t.log_config {
        let disk = g.ephemeral_disk.as_ref().and_then(|d| d.size_mb);
        validate_logs(logs, disk, &mut e.at(PathSegment::Block("logs")));
    }
    validate_placement(&t.constraints, &t.affinities, &None, e);
    for (i, a) in t.artifacts.iter().flatten().enumerate() {
        validate_artifact(a, &mut e.at(PathSegment::Artifact(i + 1)));
    }
    for (i, tmpl) in t.templates.iter().flatten().enumerate() {
        validate_template(tmpl, &mut e.at(PathSegment::Template(i + 1)));
    }
    if let Some(v) = &t.vault {
        validate_vault(v, &mut e.at(PathSegment::Block("vault")));
    }
    if t.dispatch_payload.is_some() && job.parameterized_job.is_none() {
        e.add("dispatch_payload can only be used in a parameterized job");
    }
    for mount in t.volume_mounts.iter().flatten() {
        let volume = s(&mount.volume);
        if !g.volumes.as_ref().is_some_and(|v| v.contains_key(volume)) {
            e.add(format!("volume_mount references unknown volume {volume:?}"));
        }
    }
    for svc in t.services.iter().flatten() {
        validate_service(
            svc,
            port_labels,
            &mut e.at(PathSegment::Service(s(&svc.name).to_owned())),
        );
    }
}

fn validate_resources(r: &Resources, e: &mut Errs<'_>) {
    let cores = r.cores.unwrap_or_default();
    let cpu = r.cpu.unwrap_or_default();
    if cores < 0 {
        e.add("cores must be non-negative");
    }
    if cores > 0 && cpu > 0 {
        e.add("task can only ask for 'cpu' or 'cores' resource, not both");
    } else if cores <= 0 && cpu < 1 {
        e.add(format!("minimum CPU value is 1; got {cpu}"));
    }
    let memory = r.memory_mb.unwrap_or_default();
    if memory < 10 {
        e.add(format!("minimum MemoryMB value is 10; got {memory}"));
    }
    if let Some(max) = r.memory_max_mb
        && max != 0
        && max < memory
    {
        e.add(format!(
            "MemoryMaxMB value ({max}) should be larger than MemoryMB value ({memory})"
        ));
    }
    for dev in r.devices.iter().flatten() {
        let mut de = e.at(PathSegment::Device(s(&dev.name).to_owned()));
        if s(&dev.name).is_empty() {
            de.add("device name must be given as one of the following: type, vendor/type, or vendor/type/name");
        }
        validate_placement(&dev.constraints, &dev.affinities, &None, &mut de);
    }
    if let Some(numa) = &r.numa
        && let Some(affinity) = numa.affinity.as_deref()
        && !matches!(affinity, "none" | "prefer" | "require")
    {
        e.add(format!(
            "invalid numa affinity {affinity:?}; must be none, prefer or require"
        ));
    }
}

fn validate_logs(l: &LogConfig, disk_mb: Option<i64>, e: &mut Errs<'_>) {
    let files = l.max_files.unwrap_or(1);
    let size = l.max_file_size_mb.unwrap_or(1);
    if files < 1 {
        e.add(format!("minimum number of files is 1; got {files}"));
    }
    if size < 1 {
        e.add(format!("minimum file size is 1MB; got {size}"));
    }
    if let Some(disk) = disk_mb
        && files.saturating_mul(size) > disk
        && l.disabled != Some(true)
    {
        e.add(format!(
            "log storage ({} MB) must be less than requested disk capacity ({disk} MB)",
            files.saturating_mul(size)
        ));
    }
}

fn validate_artifact(a: &Artifact, e: &mut Errs<'_>) {
    if s(&a.getter_source).is_empty() {
        e.add("source must be specified");
    }
    if let Some(mode) = a.getter_mode.as_deref()
        && !matches!(mode, "any" | "file" | "dir")
    {
        e.add(format!(
            "invalid artifact mode {mode:?}; must be one of any, file, dir"
        ));
    }
}

fn validate_template(t: &Template, e: &mut Errs<'_>) {
    if s(&t.source_path).is_empty() && s(&t.embedded_tmpl).is_empty() {
        e.add("must specify a source path or have an embedded template");
    }
    if s(&t.dest_path).is_empty() {
        e.add("must specify a destination for the template");
    }
    match s(&t.change_mode) {
        "noop" | "restart" => {}
        "signal" => {
            if s(&t.change_signal).is_empty() {
                e.add("must specify signal value when change mode is signal");
            }
        }
        "script" => {
            if t.change_script
                .as_ref()
                .is_none_or(|c| s(&c.command).is_empty())
            {
                e.add("must specify a change script command when change mode is script");
            }
        }
        other => e.add(format!(
            "invalid change mode {other:?}; must be one of noop, restart, signal, script"
        )),
    }
    if neg(t.splay) {
        e.add("must specify a non-negative value for splay");
    }
    if let Some(perms) = t.perms.as_deref()
        && u32::from_str_radix(perms, 8).is_err()
    {
        e.add(format!("failed to parse {perms:?} as octal"));
    }
    if let Some(wait) = &t.wait
        && let (Some(min), Some(max)) = (wait.min, wait.max)
        && min > max
    {
        e.add(format!(
            "wait min ({min}) must be less than or equal to max ({max})"
        ));
    }
}

fn validate_vault(v: &Vault, e: &mut Errs<'_>) {
    match s(&v.change_mode) {
        "" | "noop" | "restart" => {}
        "signal" => {
            if s(&v.change_signal).is_empty() {
                e.add("signal must be specified when using change mode signal");
            }
        }
        other => e.add(format!(
            "invalid change mode {other:?}; must be one of noop, restart, signal"
        )),
    }
}

/// Whether a service name is a valid RFC 1123 label once `${...}`
/// interpolations are replaced by a letter.
fn service_name_valid(name: &str) -> bool {
    let Ok(interp) = Regex::new(r"\$\{[^}]+\}") else {
        return true;
    };
    let Ok(label) = Regex::new(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$") else {
        return true;
    };
    label.is_match(&interp.replace_all(name, "a"))
}

fn validate_service(svc: &Service, port_labels: &BTreeSet<String>, e: &mut Errs<'_>) {
    let name = s(&svc.name);
    if !service_name_valid(name) {
        e.add(format!(
            "service name must be valid per RFC 1123 and can contain only alphanumeric characters or dashes: {name:?}"
        ));
    }
    if let Some(provider) = svc.provider.as_deref()
        && !matches!(provider, "consul" | "nomad")
    {
        e.add(format!(
            "service provider must be \"consul\" or \"nomad\"; got {provider:?}"
        ));
    }
    if let Some(mode) = svc.address_mode.as_deref()
        && !matches!(mode, "auto" | "host" | "driver" | "alloc")
    {
        e.add(format!("invalid address_mode {mode:?}"));
    }
    let port = s(&svc.port_label);
    if !port.is_empty()
        && port.parse::<u16>().is_err()
        && !port.contains("${")
        && svc.address.is_none()
        && !port_labels.contains(port)
    {
        e.add(format!(
            "port label {port:?} referenced by the service does not exist"
        ));
    }
    for (i, check) in svc.checks.iter().flatten().enumerate() {
        let label = match s(&check.name) {
            "" => format!("#{}", i + 1),
            n => n.to_owned(),
        };
        validate_check(check, &mut e.at(PathSegment::Check(label)));
    }
}

fn validate_check(c: &ServiceCheck, e: &mut Errs<'_>) {
    let kind = s(&c.r#type);
    match kind {
        "http" => {
            if s(&c.path).is_empty() {
                e.add("http type must have http path");
            }
        }
        "script" => {
            if s(&c.command).is_empty() {
                e.add("script type must have a valid script path");
            }
        }
        "tcp" | "grpc" => {}
        other => {
            e.add(format!(
                "invalid check type {other:?}; must be one of http, tcp, grpc, script"
            ));
        }
    }
    if kind != "script" {
        if c.interval.is_none_or(|d| d <= Duration::ZERO) {
            e.add("check interval must be greater than zero");
        }
        if c.timeout.is_none_or(|d| d <= Duration::ZERO) {
            e.add("check timeout must be greater than zero");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{
        Affinity, ChangeScript, Constraint, Port, ScalingPolicy, SpreadTarget, TaskLifecycle,
        VolumeMount, VolumeRequest,
    };

    const SEC: i64 = 1_000_000_000;

    /// A canonicalised service job that passes every rule.
    fn valid_job() -> Job {
        let mut job: Job = serde_json::from_value(json!({
            "ID": "web",
            "Datacenters": ["dc1"],
            "TaskGroups": [{
                "Name": "web",
                "Count": 2,
                "Networks": [{
                    "Mode": "bridge",
                    "DynamicPorts": [{"Label": "http", "Value": 0, "To": 8080}],
                    "ReservedPorts": [{"Label": "admin", "Value": 9000}]
                }],
                "Services": [{
                    "Name": "web-${NOMAD_ALLOC_INDEX}",
                    "PortLabel": "http",
                    "Checks": [{
                        "Name": "alive", "Type": "http", "Path": "/health",
                        "Interval": 10 * SEC, "Timeout": 2 * SEC
                    }]
                }],
                "Volumes": {"data": {"Name": "data", "Type": "host", "Source": "data"}},
                "Tasks": [{
                    "Name": "app",
                    "Driver": "raw_exec",
                    "Config": {"command": "/bin/app"},
                    "VolumeMounts": [{"Volume": "data", "Destination": "/data"}],
                    "Templates": [{"EmbeddedTmpl": "x={{ env \"A\" }}", "DestPath": "local/x"}],
                    "Artifacts": [{"GetterSource": "https://example.com/app.tgz"}],
                    "Services": [{"PortLabel": "admin"}]
                }, {
                    "Name": "setup",
                    "Driver": "raw_exec",
                    "Lifecycle": {"Hook": "prestart"}
                }]
            }]
        }))
        .unwrap();
        job.canonicalize();
        job
    }

    fn group(job: &mut Job) -> &mut TaskGroup {
        &mut job.task_groups.as_mut().unwrap()[0]
    }

    fn task(job: &mut Job) -> &mut Task {
        &mut group(job).tasks.as_mut().unwrap()[0]
    }

    fn errors(job: &Job) -> Vec<String> {
        match job.validate() {
            Ok(()) => Vec::new(),
            Err(errs) => errs.iter().map(ToString::to_string).collect(),
        }
    }

    #[track_caller]
    fn expect_error(mutate: impl FnOnce(&mut Job), want: &str) {
        let mut job = valid_job();
        mutate(&mut job);
        let got = errors(&job);
        assert!(got.iter().any(|e| e == want), "want {want:?}\ngot {got:#?}");
    }

    #[test]
    fn valid_job_passes() {
        assert_eq!(errors(&valid_job()), Vec::<String>::new());
    }

    #[test]
    fn all_errors_are_collected_and_rendered_one_per_line() {
        let mut job = valid_job();
        job.id = Some("bad id".into());
        job.priority = Some(0);
        task(&mut job).driver = None;
        let err = job.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "job: job ID contains a space\n\
             job: job priority must be between 1 and 100; got 0\n\
             group \"web\" -> task \"app\": missing driver"
        );
        assert_eq!(err.len(), 3);
        assert_eq!(
            err.0[2].path,
            vec![
                PathSegment::Group("web".into()),
                PathSegment::Task("app".into())
            ]
        );
    }

    #[test]
    fn job_rules() {
        expect_error(|j| j.id = None, "job: missing job ID");
        expect_error(
            |j| j.id = Some("a\0b".into()),
            "job: job ID contains a null character",
        );
        expect_error(|j| j.name = Some(String::new()), "job: missing job name");
        expect_error(
            |j| j.r#type = Some("cron".into()),
            "job: invalid job type \"cron\"; must be one of service, batch, system, sysbatch",
        );
        expect_error(
            |j| j.priority = Some(101),
            "job: job priority must be between 1 and 100; got 101",
        );
        expect_error(
            |j| j.region = Some(String::new()),
            "job: missing job region",
        );
        expect_error(
            |j| j.datacenters = Some(vec![]),
            "job: missing job datacenters",
        );
        expect_error(
            |j| j.datacenters = Some(vec![String::new()]),
            "job: job datacenter must be a non-empty string",
        );
        expect_error(|j| j.task_groups = None, "job: missing job task groups");
        expect_error(
            |j| {
                let g = group(j).clone();
                j.task_groups.as_mut().unwrap().push(g);
            },
            "job: task group \"web\" is defined more than once",
        );
    }

    #[test]
    fn periodic_and_parameterized_rules() {
        expect_error(
            |j| {
                j.periodic = Some(PeriodicConfig {
                    spec_type: Some("cron".into()),
                    ..Default::default()
                })
            },
            "job -> periodic: must specify a cron spec",
        );
        expect_error(
            |j| {
                j.periodic = Some(PeriodicConfig {
                    spec: Some("*/5 * *".into()),
                    spec_type: Some("cron".into()),
                    ..Default::default()
                })
            },
            "job -> periodic: invalid cron spec \"*/5 * *\": expected 5 to 7 fields",
        );
        expect_error(
            |j| {
                j.periodic = Some(PeriodicConfig {
                    spec: Some("*/5 * * * *".into()),
                    ..Default::default()
                })
            },
            "job: periodic can only be used with batch or sysbatch jobs",
        );
        expect_error(
            |j| task(j).dispatch_payload = Some(Default::default()),
            "group \"web\" -> task \"app\": dispatch_payload can only be used in a parameterized job",
        );
        expect_error(
            |j| j.parameterized_job = Some(Default::default()),
            "job: parameterized can only be used with batch or sysbatch jobs",
        );
        let mut job = valid_job();
        job.r#type = Some("batch".into());
        job.update = None;
        group(&mut job).update = None;
        job.periodic = Some(PeriodicConfig {
            specs: Some(vec!["0 3 * * *".into(), "@daily".into()]),
            spec_type: Some("cron".into()),
            ..Default::default()
        });
        assert_eq!(errors(&job), Vec::<String>::new());
    }

    #[test]
    fn group_rules() {
        expect_error(
            |j| group(j).count = Some(-1),
            "group \"web\": task group count can't be negative",
        );
        expect_error(
            |j| group(j).tasks = Some(vec![]),
            "group \"web\": missing tasks for task group",
        );
        expect_error(
            |j| {
                let t = task(j).clone();
                group(j).tasks.as_mut().unwrap().push(t);
            },
            "group \"web\": task \"app\" is defined more than once",
        );
        expect_error(
            |j| {
                for t in group(j).tasks.as_mut().unwrap() {
                    t.leader = Some(true);
                }
            },
            "group \"web\": only one task may be marked as leader",
        );
        expect_error(
            |j| {
                group(j)
                    .volumes
                    .as_mut()
                    .unwrap()
                    .insert("x".into(), VolumeRequest::default());
            },
            "group \"web\" -> volume \"x\": volume has unrecognized type \"\"; must be host or csi",
        );
        expect_error(
            |j| {
                task(j).volume_mounts = Some(vec![VolumeMount {
                    volume: Some("nope".into()),
                    ..Default::default()
                }])
            },
            "group \"web\" -> task \"app\": volume_mount references unknown volume \"nope\"",
        );
    }

    #[test]
    fn disconnect_and_network_rules() {
        use crate::model::DisconnectStrategy;
        expect_error(
            |j| {
                group(j).disconnect = Some(DisconnectStrategy {
                    lost_after: Some(Duration::from_secs(60)),
                    ..Default::default()
                });
                group(j).max_client_disconnect = Some(Duration::from_secs(60));
            },
            "group \"web\" -> disconnect: using both lost_after and max_client_disconnect is not allowed",
        );
        expect_error(
            |j| {
                group(j).disconnect = Some(DisconnectStrategy {
                    reconcile: Some("newest".into()),
                    ..Default::default()
                })
            },
            "group \"web\" -> disconnect: invalid reconcile option \"newest\"; must be one of best_score, keep_original, keep_replacement, longest_running",
        );
        expect_error(
            |j| {
                group(j)
                    .networks
                    .as_mut()
                    .unwrap()
                    .push(NetworkResource::default())
            },
            "group \"web\": only one network block is allowed per group",
        );
    }

    #[test]
    fn policy_rules() {
        expect_error(
            |j| group(j).restart_policy.as_mut().unwrap().mode = Some("retry".into()),
            "group \"web\" -> restart: unsupported restart mode \"retry\"; must be \"delay\" or \"fail\"",
        );
        expect_error(
            |j| group(j).restart_policy.as_mut().unwrap().attempts = Some(-1),
            "group \"web\" -> restart: restart attempts must be greater than or equal to zero",
        );
        expect_error(
            |j| task(j).restart_policy.as_mut().unwrap().attempts = Some(200),
            "group \"web\" -> task \"app\" -> restart: can't restart 200 times in an interval of 30m0s with a delay of 15s",
        );
        expect_error(
            |j| group(j).reschedule_policy.as_mut().unwrap().delay_function = Some("linear".into()),
            "group \"web\" -> reschedule: invalid delay function \"linear\"; must be one of constant, exponential, fibonacci",
        );
        expect_error(
            |j| {
                j.r#type = Some("system".into());
                group(j).update.as_mut().unwrap().canary = Some(1);
            },
            "group \"web\": system jobs may not have a reschedule policy",
        );
        expect_error(
            |j| {
                j.r#type = Some("system".into());
                group(j).update.as_mut().unwrap().canary = Some(1);
            },
            "group \"web\" -> update: system jobs may not have canaries",
        );
        expect_error(
            |j| j.r#type = Some("batch".into()),
            "group \"web\": batch jobs may not have an update block",
        );
        expect_error(
            |j| group(j).update.as_mut().unwrap().health_check = Some("http".into()),
            "group \"web\" -> update: invalid health check given: \"http\"",
        );
        expect_error(
            |j| group(j).update.as_mut().unwrap().max_parallel = Some(-1),
            "group \"web\" -> update: max parallel can not be less than zero",
        );
        expect_error(
            |j| group(j).update.as_mut().unwrap().canary = Some(3),
            "group \"web\" -> update: canary count (3) must be less than or equal to the group count (2)",
        );
        expect_error(
            |j| group(j).update.as_mut().unwrap().min_healthy_time = Some(Duration::from_mins(5)),
            "group \"web\" -> update: minimum healthy time (5m0s) must be less than healthy deadline (5m0s)",
        );
        expect_error(
            |j| group(j).update.as_mut().unwrap().progress_deadline = Some(Duration::from_mins(1)),
            "group \"web\" -> update: healthy deadline (5m0s) must be less than progress deadline (1m0s)",
        );
        expect_error(
            |j| group(j).migrate.as_mut().unwrap().health_check = Some("manual".into()),
            "group \"web\" -> migrate: invalid health check given: \"manual\"",
        );
    }

    #[test]
    fn scaling_rules() {
        let scaling = |min, max| ScalingPolicy {
            min,
            max,
            ..Default::default()
        };
        expect_error(
            |j| group(j).scaling = Some(scaling(Some(1), None)),
            "group \"web\" -> scaling: missing maximum in scaling policy",
        );
        expect_error(
            |j| group(j).scaling = Some(scaling(Some(5), Some(3))),
            "group \"web\" -> scaling: maximum count (3) must not be less than minimum count (5)",
        );
        expect_error(
            |j| group(j).scaling = Some(scaling(Some(0), Some(1))),
            "group \"web\" -> scaling: task group count must not be greater than maximum count in scaling policy",
        );
        expect_error(
            |j| group(j).scaling = Some(scaling(Some(3), Some(10))),
            "group \"web\" -> scaling: task group count must not be less than minimum count in scaling policy",
        );
    }

    #[test]
    fn task_rules() {
        expect_error(
            |j| task(j).driver = None,
            "group \"web\" -> task \"app\": missing driver",
        );
        expect_error(
            |j| {
                task(j).lifecycle = Some(TaskLifecycle {
                    hook: Some("prerun".into()),
                    sidecar: None,
                })
            },
            "group \"web\" -> task \"app\" -> lifecycle: invalid hook \"prerun\"; must be prestart, poststart or poststop",
        );
        expect_error(
            |j| task(j).kill_timeout = Some(Duration::from_secs(-1)),
            "group \"web\" -> task \"app\": kill_timeout must be greater than or equal to zero",
        );
        expect_error(
            |j| task(j).log_config.as_mut().unwrap().max_files = Some(100),
            "group \"web\" -> task \"app\" -> logs: log storage (1000 MB) must be less than requested disk capacity (300 MB)",
        );
    }

    fn res(j: &mut Job) -> &mut Resources {
        task(j).resources.as_mut().unwrap()
    }

    #[test]
    fn resource_rules() {
        expect_error(
            |j| res(j).cpu = Some(0),
            "group \"web\" -> task \"app\" -> resources: minimum CPU value is 1; got 0",
        );
        expect_error(
            |j| res(j).cores = Some(2),
            "group \"web\" -> task \"app\" -> resources: task can only ask for 'cpu' or 'cores' resource, not both",
        );
        expect_error(
            |j| res(j).memory_mb = Some(5),
            "group \"web\" -> task \"app\" -> resources: minimum MemoryMB value is 10; got 5",
        );
        expect_error(
            |j| res(j).memory_max_mb = Some(100),
            "group \"web\" -> task \"app\" -> resources: MemoryMaxMB value (100) should be larger than MemoryMB value (300)",
        );
        let mut job = valid_job();
        res(&mut job).cpu = None;
        res(&mut job).cores = Some(2);
        assert_eq!(errors(&job), Vec::<String>::new());
    }

    fn ports(j: &mut Job) -> &mut NetworkResource {
        &mut group(j).networks.as_mut().unwrap()[0]
    }

    fn port(label: &str, value: i64) -> Port {
        Port {
            label: Some(label.into()),
            value: Some(value),
            ..Default::default()
        }
    }

    #[test]
    fn port_rules() {
        expect_error(
            |j| ports(j).dynamic_ports.as_mut().unwrap().push(port("", 0)),
            "group \"web\" -> network #1: port label \"\" does not conform to naming requirements ^[a-zA-Z0-9_]+$",
        );
        expect_error(
            |j| {
                ports(j)
                    .dynamic_ports
                    .as_mut()
                    .unwrap()
                    .push(port("HTTP", 0))
            },
            "group \"web\" -> network #1: found a port label collision: \"http\" and \"HTTP\"",
        );
        expect_error(
            |j| {
                ports(j)
                    .reserved_ports
                    .as_mut()
                    .unwrap()
                    .push(port("big", 70000))
            },
            "group \"web\" -> network #1: port \"big\" value 70000 is out of range (0-65535)",
        );
        expect_error(
            |j| {
                ports(j)
                    .reserved_ports
                    .as_mut()
                    .unwrap()
                    .push(port("other", 9000))
            },
            "group \"web\" -> network #1: static port 9000 already reserved by \"admin\"",
        );
        expect_error(
            |j| {
                task(j).resources.as_mut().unwrap().networks = Some(vec![NetworkResource {
                    dynamic_ports: Some(vec![port("Admin", 0)]),
                    ..Default::default()
                }])
            },
            "group \"web\" -> task \"app\" -> resources -> network #1: found a port label collision: \"admin\" and \"Admin\"",
        );
    }

    #[test]
    fn constraint_rules() {
        let c = |l: &str, op: &str, r: &str| Constraint {
            l_target: Some(l.into()),
            operand: Some(op.into()),
            r_target: Some(r.into()),
        };
        expect_error(
            |j| j.constraints = Some(vec![c("${attr.kernel.name}", "~=", "linux")]),
            "job -> constraint #1: unknown constraint operator \"~=\"",
        );
        expect_error(
            |j| group(j).constraints = Some(vec![c("${attr.x}", "regexp", "([a-z")]),
            "group \"web\" -> constraint #1: regular expression failed to compile: regex parse error:\n    ([a-z\n     ^\nerror: unclosed character class",
        );
        expect_error(
            |j| task(j).constraints = Some(vec![c("${attr.x}", "=", "")]),
            "group \"web\" -> task \"app\" -> constraint #1: operator \"=\" requires an RTarget",
        );
        expect_error(
            |j| j.constraints = Some(vec![c("", "=", "x")]),
            "job -> constraint #1: no LTarget provided but is required by constraint",
        );
        expect_error(
            |j| j.constraints = Some(vec![c("${attr.x}", "is_set", "x")]),
            "job -> constraint #1: operator \"is_set\" does not support an RTarget",
        );
        let mut job = valid_job();
        job.constraints = Some(vec![
            c("", "distinct_hosts", "true"),
            c("${meta.rack}", "distinct_property", "2"),
            c("${attr.x}", "is_set", ""),
            c("${meta.tags}", "set_contains", "a,b"),
        ]);
        assert_eq!(errors(&job), Vec::<String>::new());
    }

    #[test]
    fn affinity_and_spread_rules() {
        let a = |w: i8| Affinity {
            l_target: Some("${node.class}".into()),
            r_target: Some("big".into()),
            operand: Some("=".into()),
            weight: Some(w),
        };
        expect_error(
            |j| j.affinities = Some(vec![a(0)]),
            "job -> affinity #1: affinity weight cannot be zero",
        );
        expect_error(
            |j| j.affinities = Some(vec![a(-101)]),
            "job -> affinity #1: affinity weight must be within the range [-100,100]; got -101",
        );
        let target = |v: &str, p: u8| SpreadTarget {
            value: Some(v.into()),
            percent: Some(p),
        };
        expect_error(
            |j| {
                j.spreads = Some(vec![Spread {
                    attribute: Some("${node.datacenter}".into()),
                    weight: Some(50),
                    spread_target: Some(vec![target("dc1", 70), target("dc2", 50)]),
                }])
            },
            "job -> spread #1: sum of spread target percentages must not be greater than 100%; got 120%",
        );
        expect_error(
            |j| {
                j.spreads = Some(vec![Spread {
                    attribute: Some("${node.datacenter}".into()),
                    weight: Some(101),
                    spread_target: None,
                }])
            },
            "job -> spread #1: spread weight must be within the range [0,100]; got 101",
        );
        expect_error(
            |j| {
                j.spreads = Some(vec![Spread {
                    weight: Some(1),
                    ..Default::default()
                }])
            },
            "job -> spread #1: missing spread attribute",
        );
    }

    fn svc(j: &mut Job) -> &mut Service {
        &mut group(j).services.as_mut().unwrap()[0]
    }

    fn check(j: &mut Job) -> &mut ServiceCheck {
        &mut svc(j).checks.as_mut().unwrap()[0]
    }

    #[test]
    fn service_rules() {
        expect_error(
            |j| svc(j).name = Some("web_api".into()),
            "group \"web\" -> service \"web_api\": service name must be valid per RFC 1123 and can contain only alphanumeric characters or dashes: \"web_api\"",
        );
        expect_error(
            |j| svc(j).provider = Some("etcd".into()),
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\": service provider must be \"consul\" or \"nomad\"; got \"etcd\"",
        );
        expect_error(
            |j| svc(j).port_label = Some("grpc".into()),
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\": port label \"grpc\" referenced by the service does not exist",
        );
        expect_error(
            |j| check(j).r#type = Some("udp".into()),
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\" -> check \"alive\": invalid check type \"udp\"; must be one of http, tcp, grpc, script",
        );
        expect_error(
            |j| check(j).path = None,
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\" -> check \"alive\": http type must have http path",
        );
        expect_error(
            |j| check(j).interval = None,
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\" -> check \"alive\": check interval must be greater than zero",
        );
        expect_error(
            |j| check(j).timeout = Some(Duration::ZERO),
            "group \"web\" -> service \"web-${NOMAD_ALLOC_INDEX}\" -> check \"alive\": check timeout must be greater than zero",
        );
        let mut job = valid_job();
        *check(&mut job) = ServiceCheck {
            name: Some("script".into()),
            r#type: Some("script".into()),
            command: Some("/bin/check".into()),
            ..Default::default()
        };
        assert_eq!(errors(&job), Vec::<String>::new());
    }

    fn tmpl(j: &mut Job) -> &mut Template {
        &mut task(j).templates.as_mut().unwrap()[0]
    }

    #[test]
    fn template_and_artifact_rules() {
        expect_error(
            |j| tmpl(j).embedded_tmpl = Some(String::new()),
            "group \"web\" -> task \"app\" -> template #1: must specify a source path or have an embedded template",
        );
        expect_error(
            |j| tmpl(j).dest_path = None,
            "group \"web\" -> task \"app\" -> template #1: must specify a destination for the template",
        );
        expect_error(
            |j| tmpl(j).change_mode = Some("reload".into()),
            "group \"web\" -> task \"app\" -> template #1: invalid change mode \"reload\"; must be one of noop, restart, signal, script",
        );
        expect_error(
            |j| {
                tmpl(j).change_mode = Some("signal".into());
                tmpl(j).change_signal = None;
            },
            "group \"web\" -> task \"app\" -> template #1: must specify signal value when change mode is signal",
        );
        expect_error(
            |j| {
                tmpl(j).change_mode = Some("script".into());
                tmpl(j).change_script = Some(ChangeScript::default());
            },
            "group \"web\" -> task \"app\" -> template #1: must specify a change script command when change mode is script",
        );
        expect_error(
            |j| task(j).artifacts.as_mut().unwrap()[0].getter_source = Some(String::new()),
            "group \"web\" -> task \"app\" -> artifact #1: source must be specified",
        );
    }
}
