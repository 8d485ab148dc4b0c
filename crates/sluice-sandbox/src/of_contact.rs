//! Records kept under a contact (notes, tasks, appointments): listing a contact's, adding,
//! reading, changing and removing one, each after the check that the token may see the contact.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::contacts::contact_index;
use crate::errors::GhlError;
use crate::seed::{Appointment, Note, Seed, Task};
use crate::state::SandboxState;
use crate::tokens::Principal;

/// A kind of record kept under a contact, in its list of the seed.
pub(crate) trait OfContact: Clone + Serialize {
    /// What the 404 calls it (`Note not found`).
    const WHAT: &'static str;
    fn id(&self) -> &str;
    fn contact_id(&self) -> &str;
    fn all(seed: &Seed) -> &Vec<Self>;
    fn all_mut(seed: &mut Seed) -> &mut Vec<Self>;
}

macro_rules! of_contact {
    ($ty:ty, $what:literal, $list:ident) => {
        impl OfContact for $ty {
            const WHAT: &'static str = $what;
            fn id(&self) -> &str {
                &self.id
            }
            fn contact_id(&self) -> &str {
                &self.contact_id
            }
            fn all(seed: &Seed) -> &Vec<Self> {
                &seed.$list
            }
            fn all_mut(seed: &mut Seed) -> &mut Vec<Self> {
                &mut seed.$list
            }
        }
    };
}

of_contact!(Note, "Note", notes);
of_contact!(Task, "Task", tasks);
of_contact!(Appointment, "Appointment", appointments);

/// The record as GHL answers it.
pub(crate) fn to_json<T: Serialize>(r: &T) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// The record's fields for a webhook payload (flat, FACTS §9).
pub(crate) fn event<T: Serialize>(r: &T) -> Map<String, Value> {
    match to_json(r) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn index<T: OfContact>(seed: &Seed, contact_id: &str, id: &str) -> Result<usize, GhlError> {
    T::all(seed)
        .iter()
        .position(|r| r.id() == id && r.contact_id() == contact_id)
        // 404 body shape UNCONFIRMED (FACTS §11).
        .ok_or_else(|| GhlError::NotFound(format!("{} not found", T::WHAT)))
}

/// The contact's records, as GHL answers them.
pub(crate) fn list<T: OfContact>(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
) -> Result<Vec<Value>, GhlError> {
    let data = st.inner.data.lock();
    contact_index(&data.seed, p, contact_id)?;
    Ok(T::all(&data.seed)
        .iter()
        .filter(|r| r.contact_id() == contact_id)
        .map(to_json)
        .collect())
}

/// Adds a record to the contact's: it, and the contact's location.
pub(crate) fn add<T: OfContact>(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    record: T,
) -> Result<(T, String), GhlError> {
    let mut data = st.inner.data.lock();
    let ci = contact_index(&data.seed, p, contact_id)?;
    T::all_mut(&mut data.seed).push(record.clone());
    Ok((record, data.seed.contacts[ci].location_id.clone()))
}

/// The record `id` of the contact, as GHL answers it.
pub(crate) fn get<T: OfContact>(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    id: &str,
) -> Result<Value, GhlError> {
    let data = st.inner.data.lock();
    contact_index(&data.seed, p, contact_id)?;
    let i = index::<T>(&data.seed, contact_id, id)?;
    Ok(to_json(&T::all(&data.seed)[i]))
}

/// Applies `f` to the record `id` of the contact: what `f` gives, and the contact's location.
pub(crate) fn change<T: OfContact, R>(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    id: &str,
    f: impl FnOnce(&mut T) -> R,
) -> Result<(R, String), GhlError> {
    let mut data = st.inner.data.lock();
    let ci = contact_index(&data.seed, p, contact_id)?;
    let i = index::<T>(&data.seed, contact_id, id)?;
    let out = f(&mut T::all_mut(&mut data.seed)[i]);
    Ok((out, data.seed.contacts[ci].location_id.clone()))
}

/// Removes the record `id` of the contact: it, and the contact's location.
pub(crate) fn remove<T: OfContact>(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    id: &str,
) -> Result<(T, String), GhlError> {
    let mut data = st.inner.data.lock();
    let ci = contact_index(&data.seed, p, contact_id)?;
    let i = index::<T>(&data.seed, contact_id, id)?;
    let location = data.seed.contacts[ci].location_id.clone();
    Ok((T::all_mut(&mut data.seed).remove(i), location))
}
