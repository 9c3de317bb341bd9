/* empty css              */import{b as m}from"./common-DbPCUMAf.js";import{s as o}from"./session-page-BDFGo3Na.js";import"./codemirror-DPxXkZNZ.js";o(m("app"),{embed:!1});
