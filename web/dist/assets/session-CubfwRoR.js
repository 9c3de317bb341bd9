/* empty css              */import{b as m}from"./common-DbPCUMAf.js";import{s as o}from"./session-page-WrT14bHx.js";import"./codemirror-BuOZTuyX.js";o(m("app"),{embed:!1});
