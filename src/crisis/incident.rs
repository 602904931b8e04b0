//! The incident state machine of one crisis plan, evaluated once per `every`: open at the
//! highest level whose `when:` holds, raise only upwards, resolve after `resolve.when` has held
//! for `resolve.for` without a break, and after a resolve do not reopen until no level has held
//! for `resolve.for` either (hysteresis: a signal hovering at a threshold keeps one incident
//! open instead of opening and resolving one per evaluation).

/// What one evaluation changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Transition {
    /// An incident opened at `level` (index into the plan's levels).
    Opened { level: usize },
    /// The open incident went from `from` up to `to`.
    Raised { from: usize, to: usize },
    /// `resolve.when` held for `resolve.for`.
    Resolved,
}

/// The state between evaluations. Serializable, so it survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncidentState {
    /// The open incident's level; `None` when no incident is open.
    pub level: Option<usize>,
    /// Since when `resolve.when` has held without a break.
    pub resolve_since: Option<i64>,
    /// After a resolve: true until no level has held for `resolve.for`.
    pub disarmed: bool,
    /// While disarmed: since when no level has held.
    pub quiet_since: Option<i64>,
}

/// Evaluates a plan's conditions into transitions.
#[derive(Debug, Clone)]
pub struct IncidentMachine {
    /// `resolve.for` in milliseconds; `None` when the plan resolves only by hand.
    resolve_for: Option<i64>,
    pub state: IncidentState,
}

impl IncidentMachine {
    pub fn new(resolve_for: Option<i64>) -> IncidentMachine {
        IncidentMachine {
            resolve_for,
            state: IncidentState::default(),
        }
    }

    pub fn restore(resolve_for: Option<i64>, state: IncidentState) -> IncidentMachine {
        IncidentMachine { resolve_for, state }
    }

    /// One evaluation at `now`: `holds[i]` is level i's `when:`, `resolve` the plan's
    /// `resolve.when` (false when it has none).
    pub fn evaluate(&mut self, now: i64, holds: &[bool], resolve: bool) -> Option<Transition> {
        let highest = holds.iter().rposition(|h| *h);
        match self.state.level {
            None => {
                if self.state.disarmed {
                    if highest.is_some() {
                        self.state.quiet_since = None;
                        return None;
                    }
                    let quiet = *self.state.quiet_since.get_or_insert(now);
                    if now - quiet >= self.resolve_for.unwrap_or(0) {
                        self.state.disarmed = false;
                        self.state.quiet_since = None;
                    }
                    return None;
                }
                let level = highest?;
                self.state.level = Some(level);
                self.state.resolve_since = None;
                Some(Transition::Opened { level })
            }
            Some(current) => {
                if let Some(level) = highest
                    && level > current
                {
                    self.state.level = Some(level);
                    self.state.resolve_since = None;
                    return Some(Transition::Raised {
                        from: current,
                        to: level,
                    });
                }
                let hold_for = self.resolve_for?;
                if !resolve {
                    self.state.resolve_since = None;
                    return None;
                }
                let since = *self.state.resolve_since.get_or_insert(now);
                if now - since >= hold_for {
                    self.close(now, highest.is_some());
                    return Some(Transition::Resolved);
                }
                None
            }
        }
    }

    /// Resolves by hand at `now`; the next incident opens only once no level has held for
    /// `resolve.for`.
    pub fn resolve_by_hand(&mut self, now: i64) -> bool {
        if self.state.level.is_none() {
            return false;
        }
        self.close(now, true);
        true
    }

    fn close(&mut self, now: i64, still_holding: bool) {
        self.state.level = None;
        self.state.resolve_since = None;
        self.state.disarmed = true;
        self.state.quiet_since = (!still_holding).then_some(now);
    }
}
