/* empty css              */import{b as m}from"./common-DbPCUMAf.js";import{s as o}from"./session-page-CgkPGGYN.js";import"./codemirror-C09XvHNW.js";o(m("app"),{embed:!1});
