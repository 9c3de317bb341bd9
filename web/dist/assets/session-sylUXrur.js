/* empty css              */import{b as m}from"./common-D__3XlpQ.js";import{s as o}from"./session-page-l63q4l-d.js";import"./codemirror-DPxXkZNZ.js";o(m("app"),{embed:!1});
