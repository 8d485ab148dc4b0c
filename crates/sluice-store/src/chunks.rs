//! Multi-row statements in fixed sizes: a batch of rows is cut into chunks of a few sizes only,
//! so the statements stay prepared in each connection's cache.

/// Rows per multi-row `INSERT`, largest first: a batch is cut into chunks of these sizes only,
/// so the few statements there are stay prepared in the connection's cache instead of being
/// parsed anew for every batch size (PostgreSQL takes at most 65,535 parameters a statement).
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// `items` cut into chunks of the sizes in [`CHUNK_SIZES`], in order.
pub(crate) fn fixed_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        let size = CHUNK_SIZES.iter().copied().find(|s| *s <= rest.len())?;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_into_fixed_sizes() {
        let items: Vec<u32> = (0..347).collect();
        let sizes: Vec<usize> = fixed_chunks(&items).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![256, 64, 16, 4, 4, 1, 1, 1]);
        assert_eq!(sizes.iter().sum::<usize>(), 347);
        assert_eq!(fixed_chunks::<u32>(&[]).count(), 0);
    }
}
