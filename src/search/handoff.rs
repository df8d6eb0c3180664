//! Work that two threads share without either waiting for the other to be scheduled: each
//! piece is done by whichever thread claims it first; the other waits only for a piece under way.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// A piece of work done once, by the first thread that claims it, for whichever thread asks
/// for its result. A helper thread that a busy machine starts late finds its pieces done and
/// does nothing, so the thread that needs a result never waits for one that has not begun.
pub(super) struct Task<R> {
    claimed: AtomicBool,
    result: Mutex<Option<std::thread::Result<R>>>,
    done: Condvar,
}

impl<R> Task<R> {
    pub(super) fn new() -> Task<R> {
        Task {
            claimed: AtomicBool::new(false),
            result: Mutex::new(None),
            done: Condvar::new(),
        }
    }

    /// Does `work` here unless a thread has claimed the task, keeping what it gave (or its
    /// panic) for [`Task::take`].
    pub(super) fn offer(&self, work: impl FnOnce() -> R) {
        if self.claim() {
            let outcome = catch_unwind(AssertUnwindSafe(work));
            *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            self.done.notify_all();
        }
    }

    /// The task's result: made here by `work` when no thread has claimed the task, else
    /// waited for; a panic of the thread that made it goes on here.
    pub(super) fn take(&self, work: impl FnOnce() -> R) -> R {
        if self.claim() {
            return work();
        }
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(outcome) = result.take() {
                return outcome.unwrap_or_else(|panic| resume_unwind(panic));
            }
            result = self.done.wait(result).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether this call is the first to claim the task.
    fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_done_once_by_whichever_thread_claims_it_first() {
        let task = Task::new();
        assert_eq!(task.take(|| 1), 1);
        task.offer(|| panic!("a claimed task is not done again"));
        let task = Task::new();
        task.offer(|| 2);
        assert_eq!(task.take(|| 3), 2);
        for _ in 0..50 {
            let task = std::sync::Arc::new(Task::new());
            let other = std::sync::Arc::clone(&task);
            let helper = std::thread::spawn(move || other.offer(|| 7));
            assert_eq!(task.take(|| 7), 7);
            helper.join().expect("helper");
        }
    }

    #[test]
    fn a_panic_of_the_thread_that_did_the_task_goes_on_where_its_result_is_taken() {
        let task: Task<u32> = Task::new();
        task.offer(|| panic!("damaged"));
        let taken = catch_unwind(AssertUnwindSafe(|| task.take(|| 1)));
        let panic = taken.expect_err("the panic goes on");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"damaged"));
    }
}
