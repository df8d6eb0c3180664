//! The human printer's outlines and label tables: each document's heading tree with passage
//! counts, labels and captions (`rsearch sections`), and the taxonomy's labels with their counts.

use std::io::{self, Write};

use super::*;

impl Human {
    /// Each document, then its headings as a tree with passage counts, labels and captions;
    /// with `explain`, under each heading why it is one.
    pub(super) fn outline(
        &self,
        outlines: &[Outline],
        taxonomy: &Taxonomy,
        explain: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for outline in outlines {
            let doc = &outline.document;
            writeln!(
                out,
                "{}  {}  {}",
                self.paint(GREEN, &doc.source),
                self.paint(BOLD, &doc.title),
                self.paint(DIM, &format!("{} passages", doc.passages.len()))
            )?;
            let tallies = SectionTallies::of(doc, &outline.labels, taxonomy);
            for section in &doc.sections {
                let tally = tallies.get(&section.path);
                let labels = tally.labels(taxonomy);
                let depth = section.path.len().max(1);
                let heading = section
                    .path
                    .last()
                    .map_or("(before the first heading)".to_string(), |h| h.clone());
                let count = format!(
                    "{} passage{}",
                    tally.passages,
                    if tally.passages == 1 { "" } else { "s" }
                );
                writeln!(
                    out,
                    "{}{}  {}  {}",
                    "  ".repeat(depth),
                    self.paint(BLUE, &heading),
                    self.paint(DIM, &count),
                    self.labels(&labels)
                )?;
                if explain && !section.heading_reasons.is_empty() {
                    let why = format!("heading, why: {}", section.heading_reasons.join("; "));
                    writeln!(out, "{}{}", "  ".repeat(depth + 1), self.paint(DIM, &why))?;
                }
                for (i, caption) in section.captions.iter().enumerate() {
                    let why = section
                        .caption_reasons
                        .get(i)
                        .map(|r| r.join("; "))
                        .unwrap_or_default();
                    let caption = if why.is_empty() {
                        format!("caption: {caption}")
                    } else {
                        format!("caption: {caption}  (why: {why})")
                    };
                    writeln!(out, "{}{}", "  ".repeat(depth + 1), self.paint(DIM, &caption))?;
                }
            }
        }
        Ok(())
    }

    /// The roles, then the topics, one a line with its passage count and its terms.
    pub(super) fn label_table(
        &self,
        taxonomy: &Taxonomy,
        counts: &Facets,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if taxonomy.roles.is_empty() && taxonomy.topics.is_empty() {
            return writeln!(
                out,
                "the index has no taxonomy (add taxonomy.toml to the corpus folder)"
            );
        }
        for (title, list, counted, what, colour) in [
            ("roles", &taxonomy.roles, &counts.roles, "aliases", CYAN),
            ("topics", &taxonomy.topics, &counts.topics, "keywords", YELLOW),
        ] {
            writeln!(out, "{}", self.paint(BOLD, title))?;
            let slug_width = list.iter().map(|c| c.slug.chars().count()).max().unwrap_or(0);
            for category in list.iter() {
                let n = count_of(counted, &category.slug);
                let pad = " ".repeat(slug_width - category.slug.chars().count());
                writeln!(
                    out,
                    "  {}{pad}  {:>4} passages  {}: {}",
                    self.paint(colour, &category.slug),
                    n,
                    what,
                    terminal_safe(&category.terms.join(", "))
                )?;
            }
        }
        Ok(())
    }
}

/// How many passages a section holds and which labels they carry: the root section (path
/// empty) holds only the passages before the first heading; any other holds every passage
/// whose heading path starts with its path, its subsections' too.
#[derive(Debug, Clone, Default)]
struct Tally {
    passages: usize,
    /// `roles[i]`: some passage carries the taxonomy's role `i`; `topics` likewise.
    roles: Vec<bool>,
    topics: Vec<bool>,
}

impl Tally {
    fn add(&mut self, labels: &Labels, slots: &LabelSlots) {
        self.passages += 1;
        for (flags, slugs, slot) in [
            (&mut self.roles, &labels.roles, &slots.roles),
            (&mut self.topics, &labels.topics, &slots.topics),
        ] {
            for slug in slugs {
                if let Some(&i) = slot.get(slug.as_str()) {
                    if flags.len() <= i {
                        flags.resize(i + 1, false);
                    }
                    flags[i] = true;
                }
            }
        }
    }

    /// The labels carried, each once, in taxonomy order.
    fn labels(&self, taxonomy: &Taxonomy) -> Labels {
        let pick = |kind: LabelKind, flags: &[bool]| -> Vec<String> {
            taxonomy
                .list(kind)
                .iter()
                .enumerate()
                .filter(|(i, _)| flags.get(*i).copied().unwrap_or(false))
                .map(|(_, c)| c.slug.clone())
                .collect()
        };
        Labels {
            roles: pick(LabelKind::Role, &self.roles),
            topics: pick(LabelKind::Topic, &self.topics),
        }
    }
}

/// The position of each role and topic slug in the taxonomy.
struct LabelSlots<'t> {
    roles: HashMap<&'t str, usize>,
    topics: HashMap<&'t str, usize>,
}

/// The [`Tally`] of every heading path of a document, counted in one pass over its passages:
/// a passage counts for each prefix of its path, found in a tree of headings. An outline is
/// then linear in passages and sections (times the nesting depth), where comparing every
/// section with every passage was quadratic: minutes for a file of tens of thousands of
/// headings.
struct SectionTallies<'d> {
    /// Node 0 is the tree's root; a node's children by heading text.
    children: Vec<HashMap<&'d str, usize>>,
    tallies: Vec<Tally>,
    /// The passages before the first heading.
    before_headings: Tally,
    empty: Tally,
}

impl<'d> SectionTallies<'d> {
    fn of(document: &'d Document, labels: &[Labels], taxonomy: &Taxonomy) -> SectionTallies<'d> {
        let slots_of = |kind| {
            let list: &[crate::label::Category] = taxonomy.list(kind);
            list.iter()
                .enumerate()
                .map(|(i, c)| (c.slug.as_str(), i))
                .collect::<HashMap<&str, usize>>()
        };
        let slots = LabelSlots {
            roles: slots_of(LabelKind::Role),
            topics: slots_of(LabelKind::Topic),
        };
        let mut tree = SectionTallies {
            children: vec![HashMap::new()],
            tallies: vec![Tally::default()],
            before_headings: Tally::default(),
            empty: Tally::default(),
        };
        let no_labels = Labels::default();
        for (i, passage) in document.passages.iter().enumerate() {
            let labels = labels.get(i).unwrap_or(&no_labels);
            if passage.section.is_empty() {
                tree.before_headings.add(labels, &slots);
            }
            let mut node = 0;
            for heading in &passage.section {
                let next = tree.children.len();
                node = *tree.children[node].entry(heading.as_str()).or_insert(next);
                if node == next {
                    tree.children.push(HashMap::new());
                    tree.tallies.push(Tally::default());
                }
                tree.tallies[node].add(labels, &slots);
            }
        }
        tree
    }

    /// The tally of the section with this heading path (nothing for a path no passage has).
    fn get(&self, path: &[String]) -> &Tally {
        if path.is_empty() {
            return &self.before_headings;
        }
        let mut node = 0;
        for heading in path {
            match self.children[node].get(heading.as_str()) {
                Some(&next) => node = next,
                None => return &self.empty,
            }
        }
        &self.tallies[node]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_counts_its_subsections_and_the_root_only_what_precedes_headings() {
        let taxonomy = Taxonomy::parse(
            "[[role]]\nslug = \"a\"\nname = \"A\"\n[[role]]\nslug = \"b\"\nname = \"B\"\n\
             [[topic]]\nslug = \"t\"\nname = \"T\"\n",
        )
        .expect("taxonomy");
        let passage = |path: &[&str]| crate::model::Passage {
            ordinal: 1,
            section: path.iter().map(|s| s.to_string()).collect(),
            text: "x".into(),
        };
        let labels = |roles: &[&str], topics: &[&str]| Labels {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            topics: topics.iter().map(|s| s.to_string()).collect(),
        };
        let document = Document {
            source: "d.txt".into(),
            title: "D".into(),
            sections: Vec::new(),
            passages: vec![
                passage(&[]),
                passage(&["A"]),
                passage(&["A", "B"]),
                passage(&["A", "B"]),
                passage(&["C"]),
                passage(&["C", "A"]),
            ],
        };
        let given = [
            labels(&[], &["t"]),
            labels(&["b"], &[]),
            labels(&["a"], &[]),
            labels(&["unknown"], &[]),
            labels(&[], &[]),
            labels(&["b"], &[]),
        ];
        let tallies = SectionTallies::of(&document, &given, &taxonomy);
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Path, passages inside, roles, topics.
        type Case<'a> = (&'a [&'a str], usize, &'a [&'a str], &'a [&'a str]);
        let cases: [Case; 6] = [
            (&[], 1, &[], &["t"]),
            (&["A"], 3, &["a", "b"], &[]),
            (&["A", "B"], 2, &["a"], &[]),
            (&["C"], 2, &["b"], &[]),
            (&["C", "A"], 1, &["b"], &[]),
            (&["D"], 0, &[], &[]),
        ];
        for (p, passages, roles, topics) in cases {
            let tally = tallies.get(&path(p));
            assert_eq!(tally.passages, passages, "{p:?}");
            assert_eq!(tally.labels(&taxonomy), labels(roles, topics), "{p:?}");
        }
    }
}
