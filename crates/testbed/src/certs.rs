//! Certificates and keys of one testbed: a CA, the apiserver's serving certificate, client
//! certificates per component, and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::TestbedError;

/// A client identity: certificate and key files.
#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    /// PEM certificate.
    pub(crate) cert: PathBuf,
    /// PEM private key (PKCS#8).
    pub(crate) key: PathBuf,
}

/// Paths of every generated file.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    /// CA certificate, trusted for serving and client certificates.
    pub(crate) ca_cert: PathBuf,
    /// CA private key (the controller-manager signs CSRs with it).
    pub(crate) ca_key: PathBuf,
    /// The apiserver's serving certificate, for 127.0.0.1 and localhost.
    pub(crate) serving: ClientCert,
    /// Cluster admin (group system:masters).
    pub(crate) admin: ClientCert,
    /// system:kube-controller-manager.
    pub(crate) controller_manager: ClientCert,
    /// system:kube-scheduler.
    pub(crate) scheduler: ClientCert,
    /// The apiserver's client certificate for kubelets (group system:masters).
    pub(crate) kubelet_client: ClientCert,
    /// kube-proxy (`system:kube-proxy`).
    pub(crate) kube_proxy: ClientCert,
    /// Real nodes' kubelets (`system:node:<name>`, group system:nodes), by node name.
    pub(crate) nodes: Vec<(String, ClientCert)>,
    /// Service-account token signing key (private, PKCS#8).
    pub(crate) sa_key: PathBuf,
    /// Its public half.
    pub(crate) sa_pub: PathBuf,
}

fn write(path: &Path, contents: &str) -> Result<(), TestbedError> {
    std::fs::write(path, contents).map_err(|e| TestbedError::io(path, e))
}

/// Generates all certificates and keys into `dir/pki`, with client certificates for the
/// kubelets of the real nodes `nodes`.
pub(crate) fn generate(dir: &Path, nodes: &[String]) -> Result<Pki, TestbedError> {
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).map_err(|e| TestbedError::io(&pki, e))?;

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kubemedic-testbed-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    write(&pki.join("ca.crt"), &ca_cert.pem())?;
    write(&pki.join("ca.key"), &ca_key.serialize_pem())?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |file: &str,
                sans: Vec<String>,
                common_name: &str,
                organization: Option<&str>,
                usage: ExtendedKeyUsagePurpose|
     -> Result<ClientCert, TestbedError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if let Some(org) = organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer)?;
        let paths = ClientCert {
            cert: pki.join(format!("{file}.crt")),
            key: pki.join(format!("{file}.key")),
        };
        write(&paths.cert, &cert.pem())?;
        write(&paths.key, &key.serialize_pem())?;
        Ok(paths)
    };

    let serving = leaf(
        "apiserver",
        vec![
            "127.0.0.1".into(),
            "localhost".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "10.0.0.1".into(),
            // Where real nodes and their pods reach the apiserver (see node::net).
            crate::node::SERVICES_IP.to_string(),
        ],
        "kube-apiserver",
        None,
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let admin = leaf(
        "admin",
        vec![],
        "kubemedic-admin",
        Some("system:masters"),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let controller_manager = leaf(
        "controller-manager",
        vec![],
        "system:kube-controller-manager",
        None,
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let scheduler = leaf(
        "scheduler",
        vec![],
        "system:kube-scheduler",
        None,
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;

    let kubelet_client = leaf(
        "apiserver-kubelet-client",
        vec![],
        "kube-apiserver-kubelet-client",
        Some("system:masters"),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let kube_proxy = leaf(
        "kube-proxy",
        vec![],
        "system:kube-proxy",
        None,
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let mut node_certs = Vec::with_capacity(nodes.len());
    for name in nodes {
        let cert = leaf(
            &format!("node-{name}"),
            vec![],
            &format!("system:node:{name}"),
            Some("system:nodes"),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        node_certs.push((name.clone(), cert));
    }

    let sa = KeyPair::generate()?;
    let sa_key = pki.join("sa.key");
    let sa_pub = pki.join("sa.pub");
    write(&sa_key, &sa.serialize_pem())?;
    write(&sa_pub, &sa.public_key_pem())?;

    Ok(Pki {
        ca_cert: pki.join("ca.crt"),
        ca_key: pki.join("ca.key"),
        serving,
        admin,
        controller_manager,
        scheduler,
        kubelet_client,
        kube_proxy,
        nodes: node_certs,
        sa_key,
        sa_pub,
    })
}
