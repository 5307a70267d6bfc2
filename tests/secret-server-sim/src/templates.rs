//! The secret templates the simulator knows, with the field slugs real Secret Server uses.

#[derive(Debug)]
pub struct TemplateField {
    pub field_id: i64,
    pub name: &'static str,
    pub slug: &'static str,
    pub is_password: bool,
    pub is_file: bool,
    pub is_notes: bool,
}

#[derive(Debug)]
pub struct Template {
    pub id: i64,
    pub name: &'static str,
    pub fields: &'static [TemplateField],
}

const fn text(field_id: i64, name: &'static str, slug: &'static str) -> TemplateField {
    TemplateField {
        field_id,
        name,
        slug,
        is_password: false,
        is_file: false,
        is_notes: false,
    }
}

const fn password(field_id: i64, name: &'static str, slug: &'static str) -> TemplateField {
    TemplateField {
        is_password: true,
        ..text(field_id, name, slug)
    }
}

const fn file(field_id: i64, name: &'static str, slug: &'static str) -> TemplateField {
    TemplateField {
        is_file: true,
        ..text(field_id, name, slug)
    }
}

const fn notes(field_id: i64) -> TemplateField {
    TemplateField {
        is_notes: true,
        ..text(field_id, "Notes", "notes")
    }
}

const UNIX_FIELDS: &[TemplateField] = &[
    text(108, "Machine", "machine"),
    text(109, "Username", "username"),
    password(110, "Password", "password"),
    file(190, "Private Key", "private-key"),
    password(191, "Private Key Passphrase", "private-key-passphrase"),
    notes(111),
];

pub static TEMPLATES: &[Template] = &[
    Template {
        id: 6007,
        name: "Unix Account (SSH)",
        fields: UNIX_FIELDS,
    },
    Template {
        id: 6026,
        name: "Unix Account (SSH Key Rotation)",
        fields: UNIX_FIELDS,
    },
    Template {
        id: 6003,
        name: "Windows Account",
        fields: &[
            text(120, "Machine", "machine"),
            text(121, "Username", "username"),
            password(122, "Password", "password"),
            notes(123),
        ],
    },
    Template {
        id: 6001,
        name: "Active Directory Account",
        fields: &[
            text(130, "Domain", "domain"),
            text(131, "Username", "username"),
            password(132, "Password", "password"),
            notes(133),
        ],
    },
    Template {
        id: 2,
        name: "Password",
        fields: &[
            text(140, "Resource", "resource"),
            text(141, "Username", "username"),
            password(142, "Password", "password"),
            notes(143),
        ],
    },
];

pub fn template_by_name(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}
