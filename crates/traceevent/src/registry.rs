//! [`EventRegistry`]: the set of known event formats of one trace (the
//! equivalent of libtraceevent's `tep_handle`), indexed by id and by
//! `system:name`, together with the kernel's long size, byte order and page
//! header layout.

use crate::bytes::{Endian, LongSize};
use crate::error::Result;
use crate::format::{EventFormat, HeaderPage};
use std::collections::HashMap;
use std::sync::Arc;

/// Event formats of one trace, by id and by name.
#[derive(Debug, Clone)]
pub struct EventRegistry {
    by_id: Vec<Option<Arc<EventFormat>>>,
    by_name: HashMap<String, u16>,
    long_size: LongSize,
    endian: Endian,
    header_page: Option<HeaderPage>,
}

impl EventRegistry {
    /// An empty registry for a kernel with the given long size and byte order.
    pub fn new(long_size: LongSize, endian: Endian) -> Self {
        EventRegistry {
            by_id: Vec::new(),
            by_name: HashMap::new(),
            long_size,
            endian,
            header_page: None,
        }
    }

    /// Kernel long size.
    pub fn long_size(&self) -> LongSize {
        self.long_size
    }

    /// Kernel byte order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Sets the parsed `header_page` (its commit size overrides the long size).
    pub fn set_header_page(&mut self, hp: HeaderPage) {
        self.long_size = hp.long_size();
        self.header_page = Some(hp);
    }

    /// The parsed `header_page`, if set.
    pub fn header_page(&self) -> Option<&HeaderPage> {
        self.header_page.as_ref()
    }

    /// Parses a format file of `system` and adds it; returns the event.
    pub fn add_format(&mut self, system: &str, text: &str) -> Result<Arc<EventFormat>> {
        let ev = Arc::new(EventFormat::parse(system, text, self.long_size)?);
        self.insert(ev.clone());
        Ok(ev)
    }

    /// Adds (or replaces) an already parsed event.
    pub fn insert(&mut self, ev: Arc<EventFormat>) {
        let id = usize::from(ev.id);
        if self.by_id.len() <= id {
            self.by_id.resize(id + 1, None);
        }
        self.by_name
            .insert(format!("{}:{}", ev.system, ev.name), ev.id);
        if let Some(slot) = self.by_id.get_mut(id) {
            *slot = Some(ev);
        }
    }

    /// The event with this id.
    #[inline]
    pub fn get(&self, id: u16) -> Option<&Arc<EventFormat>> {
        self.by_id.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// The event `system:name`, or the first event called `name` when no
    /// system is given.
    pub fn find(&self, full_name: &str) -> Option<&Arc<EventFormat>> {
        if let Some(id) = self.by_name.get(full_name) {
            return self.get(*id);
        }
        if !full_name.contains(':') {
            return self.iter().find(|e| e.name == full_name);
        }
        None
    }

    /// All events in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<EventFormat>> {
        self.by_id.iter().flatten()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no event is registered.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
